/**
 * What every stage service shares, and nothing stage-specific: typed configuration ({@code config}), topics, the
 * task consumer and the embedded broker ({@code kafka}), the object store ({@code storage}), metrics
 * ({@code metrics}), the contract between a consumer and a stage's work ({@code task}), and what a job means to
 * every stage ({@code job}: its recipe, checks and evaluation shards). The math lives in
 * cherryq-core; the stage modules are thin adapters over both.
 */
package dev.cherryq.fleet;
