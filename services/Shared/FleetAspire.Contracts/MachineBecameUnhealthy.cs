// MassTransit identifies a message by its full type name: these namespaces and names are a wire contract.
namespace FleetAspire.Contracts.Machines;

/// <summary>A machine failed its last N health checks (N = HealthChecks:FailureThreshold).</summary>
public sealed record MachineBecameUnhealthy
{
    /// <summary>Legacy machine id: provider id for hetzner, custom machine id for custom.</summary>
    public required string MachineId { get; init; }
    public required string AgentId { get; init; }
    public required DateTimeOffset DetectedAt { get; init; }
}
