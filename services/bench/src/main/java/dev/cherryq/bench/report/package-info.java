/**
 * The fidelity report ({@code cherryq report} is its front end): {@link dev.cherryq.bench.report.FidelityReport} runs
 * every row through {@code LocalJob} and evaluates it, {@link dev.cherryq.bench.report.FidelityTable} summarises the
 * rows over seeds and judges the controls against their spread, {@code HeterogeneityReport} scores impact against
 * magnitude per matrix (and over pretraining), {@code MemoryRun} checks a long training's memory, and {@code Figures}
 * draws without ever failing the report.
 */
package dev.cherryq.bench.report;
