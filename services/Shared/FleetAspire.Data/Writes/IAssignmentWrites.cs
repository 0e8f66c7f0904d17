using FleetAspire.Data.Entities;

namespace FleetAspire.Data.Writes;

/// <summary>
/// Write storage of the assignment aggregate — which machine an agent holds. Every method runs inside the caller's
/// unit of work (an operation of the context's execution strategy) and transaction, after the caller locked the agent
/// row (agent first, machine second: one lock order everywhere).
/// </summary>
public interface IAssignmentWrites
{
    Task<bool> HoldsMachineAsync(Agent agent, CancellationToken cancellationToken);

    /// <summary>The agent's machine, or null.</summary>
    Task<HeldMachine?> HeldAsync(Agent agent, CancellationToken cancellationToken);

    /// <summary>
    /// Claims the oldest ready pool machine for an agent without one: one statement in a transaction of its own (not
    /// the caller's; see <see cref="ClaimCommands"/>).
    /// </summary>
    Task<ClaimedRow?> ClaimPoolAsync(ClaimRequest request, CancellationToken cancellationToken);

    /// <summary>Attaches the caller's locked, free custom machine to the locked idle agent. The caller saves.</summary>
    Task AttachCustomAsync(Agent agent, string customMachineId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Detaches the agent's machine and enqueues <c>MachineReleased</c> (the pool destroys a hetzner server on it).
    /// Returns what was held. The caller saves.
    /// </summary>
    Task<HeldMachine> DetachAsync(Agent agent, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// The Machine row a new child (snapshot, health check) of a hetzner machine links to — a destroyed one's
    /// tombstone included. Null where the storage leaves the link to others (legacy: dual-write links it).
    /// </summary>
    Task<string?> HetznerChildLinkAsync(string providerId, CancellationToken cancellationToken);

    /// <summary>The agent holding a machine (by its public id) and the machine's key, for heartbeat signatures.</summary>
    Task<MachineHolder?> HolderAsync(string machineId, CancellationToken cancellationToken);

    /// <summary>
    /// Locks the holder's agent row (shared) for the rest of the caller's transaction and tells whether it still holds
    /// that machine. A child written after this is never of a machine a concurrent release has already removed: the
    /// release locks the same row first, so it either finished before (false here) or waits for the child and then
    /// keeps the machine as a tombstone.
    /// </summary>
    Task<bool> LockHolderAsync(MachineHolder holder, CancellationToken cancellationToken);

    /// <summary>Agents on a machine whose last check (or assignment) is older than the cutoff: silence counts as failure.</summary>
    Task<IReadOnlyList<MachineHolder>> SilentAsync(DateTimeOffset cutoff, int limit, CancellationToken cancellationToken);
}
