// MassTransit identifies a message by its full type name: these namespaces and names are a wire contract.
namespace FleetAspire.Contracts.Machines;

/// <summary>A user's custom machine was attached to one of their agents.</summary>
public sealed record CustomMachineAssigned
{
    public required string MachineId { get; init; }
    public required string AgentId { get; init; }
    public required DateTimeOffset AssignedAt { get; init; }
}
