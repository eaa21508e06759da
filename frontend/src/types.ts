// The API's records under the names the page uses. Every type comes from `api-schema.ts`,
// generated from the server's OpenAPI document (frontend/scripts/api_types.py), so nothing
// of the contract is written here by hand.

import type { components } from "./api-schema";

type Schemas = components["schemas"];

export type JobStatus = Schemas["JobStatus"];
export type StageStatus = Schemas["StageStatus"];
export type Stage = Schemas["StageView"];
export type InputInfo = Schemas["InputInfo"];
export type StemEntry = Schemas["StemFile"];
export type Separation = Schemas["Separation"];
export type EqResult = Schemas["EqRecommendation"];
export type GenreGuess = Schemas["GenreGuess"];
export type GenreTag = Schemas["GenreTag"];
export type GenreResult = Schemas["Genre"];
export type Analysis = Schemas["Analysis"];
export type JobResults = Schemas["Results"];
export type Job = Schemas["JobView"];
export type Batch = Schemas["BatchView"];
/** One installed separation model (GET /v1/models). */
export type ModelInfo = Schemas["ModelView"];
export type ModelList = Schemas["ModelList"];

export const ENDED: ReadonlySet<JobStatus> = new Set(["succeeded", "failed", "cancelled"]);
