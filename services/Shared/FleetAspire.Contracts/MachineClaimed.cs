// MassTransit identifies a message by its full type name: these namespaces and names are a wire contract.
namespace FleetAspire.Contracts.Pool;

/// <summary>An agent took a ready machine out of the pool. The pool replenishes.</summary>
public sealed record MachineClaimed
{
    public required string AgentId { get; init; }

    /// <summary>The Machine id (<c>mh_…</c>).</summary>
    public required string MachineId { get; init; }

    /// <summary>The cloud provider's server id.</summary>
    public required string ProviderMachineId { get; init; }

    public required DateTimeOffset ClaimedAt { get; init; }
}
