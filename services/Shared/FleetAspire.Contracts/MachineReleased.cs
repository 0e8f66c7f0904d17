// MassTransit identifies a message by its full type name: these namespaces and names are a wire contract.
namespace FleetAspire.Contracts.Pool;

/// <summary>An agent let go of its machine. For a pool (hetzner) machine the pool destroys the server.</summary>
public sealed record MachineReleased
{
    public required string AgentId { get; init; }
    /// <summary>The legacy machine id: provider id for hetzner, custom machine id for custom.</summary>
    public required string MachineId { get; init; }
    public required string MachineType { get; init; }
    public required DateTimeOffset ReleasedAt { get; init; }
}
