/**
 * What jobs and commands show and draw: a terminal progress bar ({@link dev.cherryq.launcher.output.ProgressBar}),
 * headless PNG line charts ({@link dev.cherryq.launcher.output.LinePlot}) and the training-loss curve
 * ({@link dev.cherryq.launcher.output.TrainingPlots}).
 */
package dev.cherryq.launcher.output;
