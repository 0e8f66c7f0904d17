namespace FleetAspire.Data.Entities;

/// <summary>One health probe result. <see cref="MachineId"/> is the legacy string id (provider id or custom machine id).</summary>
public class MachineHealthCheck
{
    public long Id { get; set; }
    public required string AgentId { get; set; }
    public required string MachineId { get; set; }
    public required string Outcome { get; set; }
    public int? LatencyMs { get; set; }
    public DateTimeOffset CheckedAt { get; set; }
}

public static class HealthOutcome
{
    public const string Healthy = "healthy";
    public const string Unhealthy = "unhealthy";
}
