/** Types for parse-prometheus-text-format, which ships none (shape from its README). */
declare module "parse-prometheus-text-format" {
  /** One metric family; every number stays the text it was written as. */
  export interface PrometheusFamily {
    name: string;
    help: string;
    type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED";
    metrics: {
      labels?: Record<string, string>;
      value?: string;
      buckets?: Record<string, string>;
      quantiles?: Record<string, string>;
      count?: string;
      sum?: string;
    }[];
  }

  export default function parsePrometheusTextFormat(text: string): PrometheusFamily[];
}
