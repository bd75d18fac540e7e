/** Cherry selection (Cui and Wang, 2024, Sec. 4): per output row, the top-k input positions by a criterion. */
package dev.cherryq.core.selection;
