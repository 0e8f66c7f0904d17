// MassTransit identifies a message by its full type name: these namespaces and names are a wire contract.
namespace FleetAspire.Contracts.Machines;

/// <summary>An unhealthy machine passed a health check again.</summary>
public sealed record MachineRecovered
{
    public required string MachineId { get; init; }
    public required string AgentId { get; init; }
    public required DateTimeOffset DetectedAt { get; init; }
}
