namespace FleetAspire.Machines.Apis;

public sealed record HealthCheckResponse(long Id, string AgentId, string MachineId, string Outcome, int? LatencyMs, DateTimeOffset CheckedAt);
