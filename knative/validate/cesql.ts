import { CesqlParseError, compileCesql } from "../../eventing/filters/cesql/index.ts";

/**
 * A Trigger's `cesql` filter must parse, as Knative's webhook requires. The check uses the same CESQL engine the
 * embedded broker evaluates with, so an expression `validate` accepts is one `knclaw dev` can run.
 */
export function checkCesql(expression: string): string | undefined {
  try {
    compileCesql(expression);
    return undefined;
  } catch (error) {
    if (error instanceof CesqlParseError) return error.message;
    throw error;
  }
}
