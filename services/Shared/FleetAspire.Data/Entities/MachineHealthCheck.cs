namespace FleetAspire.Data.Entities;

/// <summary>One health probe result. <see cref="MachineId"/> is the legacy string id (provider id or custom machine id).</summary>
public partial class MachineHealthCheck
{
    public long Id { get; set; }
    public required string AgentId { get; set; }
    public required string Outcome { get; set; }
    public int? LatencyMs { get; set; }
    public DateTimeOffset CheckedAt { get; set; }
    /// <summary>The relation to <see cref="Machine"/> (expand phase: nullable, no constraint; strict with the contract).</summary>
    public string? MachineRef { get; set; }
}

public static class HealthOutcome
{
    public const string Healthy = "healthy";
    /// <summary>The machine reported itself unhealthy.</summary>
    public const string Unhealthy = "unhealthy";
    /// <summary>No heartbeat arrived in time: recorded by the sweeper, counts as a failure.</summary>
    public const string Missed = "missed";

    public static bool IsFailure(string outcome) => outcome != Healthy;
}
