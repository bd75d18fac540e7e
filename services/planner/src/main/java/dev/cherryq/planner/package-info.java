/**
 * The planner stage: reads a request, validates it once, tokenizes its texts once ({@code TokenizedTexts}), stores
 * the token ids and publishes the job's plan, which fleet-runtime's {@code JobPlan} computes ({@code PlannerHandler});
 * {@code PlannerMain} runs it as a process of its own.
 */
package dev.cherryq.planner;
