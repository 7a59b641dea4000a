/**
 * `postinstall`: copies the API reference's renderer into public/docs/swagger-ui/ (the copying
 * itself is local/docs-assets.ts, which the local stack also runs before every bundle).
 */
import { copyDocsAssets, DOCS_ASSETS } from "../local/docs-assets.ts";

const copied = copyDocsAssets();
if (copied > 0) console.log(`docs assets: ${copied} file(s) copied to ${DOCS_ASSETS}`);
