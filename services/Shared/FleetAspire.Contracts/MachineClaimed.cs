// MassTransit identifies a message by its full type name: these namespaces and names are a wire contract.
namespace FleetAspire.Contracts.Pool;

/// <summary>An agent took a ready machine out of the pool. The pool replenishes.</summary>
public sealed record MachineClaimed
{
    public required string AgentId { get; init; }

    /// <summary>
    /// The Machine id (<c>mh_…</c>), the same in every phase and after the migration. Null only in events written by
    /// builds from before it was added (consumers fall back to <see cref="ProviderMachineId"/>).
    /// </summary>
    public string? MachineId { get; init; }

    /// <summary>
    /// Transition only: the pool row id while legacy is written, the Machine id after. Superseded by
    /// <see cref="MachineId"/>; removed with the transition once no build reads it.
    /// </summary>
    public required string ParkedMachineId { get; init; }

    public required string ProviderMachineId { get; init; }
    public required DateTimeOffset ClaimedAt { get; init; }
}
