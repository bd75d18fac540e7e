/**
 * One job in this process. {@link dev.cherryq.launcher.local.LocalJob} runs a quantization recipe through the core
 * pipeline with progress bars, a record of settings, losses, time and memory per stage ({@code quantize.json}), a loss
 * curve and a resumable training checkpoint; {@link dev.cherryq.launcher.local.StageMeter} times the stages and reads
 * their peak memory. {@code cherryq quantize}, {@code demo}, {@code report} and the benchmarks run jobs through it;
 * {@link dev.cherryq.launcher.local.DemoComparison} is the table {@code cherryq demo} prints (fp, RTN, CherryQ).
 * {@link dev.cherryq.launcher.local.PretrainJob} pretrains a small model from scratch ({@code cherryq pretrain}).
 */
package dev.cherryq.launcher.local;
