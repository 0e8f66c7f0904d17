namespace FleetAspire.Machines.Apis;

public sealed record HeartbeatRequest(string? Outcome, int? LatencyMs);
