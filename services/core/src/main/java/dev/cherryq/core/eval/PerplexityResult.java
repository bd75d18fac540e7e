package dev.cherryq.core.eval;

/**
 * Perplexity under the window protocol: {@code meanNll} = total NLL / predicted tokens (nats),
 * {@code perplexity} = exp(meanNll).
 */
public record PerplexityResult(double meanNll, double perplexity, long predictedTokens, int windows, int sequenceLength,
        long inputTokens, double seconds) {

    public static PerplexityResult of(double totalNll, long predictedTokens, int windows, int sequenceLength,
            long inputTokens, double seconds) {
        double mean = totalNll / predictedTokens;
        return new PerplexityResult(mean, Math.exp(mean), predictedTokens, windows, sequenceLength, inputTokens, seconds);
    }
}
