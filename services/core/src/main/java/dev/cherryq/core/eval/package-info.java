/** Evaluation: token windows and perplexity under the project's single window protocol. */
package dev.cherryq.core.eval;
