/**
 * Training on the DJL runtime: AdamW with inspectable state, the cosine schedule, weight initialisation and a
 * next-token pretraining loop. CherryQ's quantization-aware training builds on these.
 */
package dev.cherryq.core.train;
