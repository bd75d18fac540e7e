/**
 * Parameter impact (Cui and Wang, 2024, Sec. 3): the empirical Fisher diagonal, the mean over calibration samples of
 * the squared per-sample gradient. Computed as mergeable partial sums, so shards of the calibration set can run
 * anywhere and be added up.
 */
package dev.cherryq.core.scoring;
