/**
 * What a job means to the fleet, shared by the planner and the stages: the request's recipe and its validation
 * ({@code RequestSettings}, {@code RecipeProto}: core's {@code QuantizationRecipe} on the wire), how evaluation is cut
 * into shards ({@code EvalSharding}), and where a job's local files go ({@code Folders}, {@code ModelFolders}). It
 * sits in the runtime module because every stage reads requests; the fan-out decisions themselves still live in the
 * handlers (a pure plan is the open structure issue's part 4).
 */
package dev.cherryq.fleet.job;
