/**
 * Job-level rules shared by the stages: what a job means to the fleet, apart from how messages travel. The request's
 * recipe and its validation ({@code RequestSettings}, {@code RecipeProto}: core's {@code QuantizationRecipe} on the
 * wire), what a job sends out ({@code JobPlan}: the planner's fan-out, the first and next trainer tasks, the
 * method's evaluation tasks; pure, no I/O), how evaluation is cut into shards ({@code EvalSharding}), job ids
 * ({@code JobIds}), the report's table ({@code ResultsTable}), and where a job's local files go ({@code Folders},
 * {@code ModelFolders}). It sits in the runtime module because the planner, the selector, the trainer, the
 * evaluator, the gateway and {@code cherryq publish} all read requests; the plumbing (Kafka, storage, the task
 * consumer) lives in the sibling packages.
 */
package dev.cherryq.fleet.job;
