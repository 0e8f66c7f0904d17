using FleetAspire.Data.Entities;
using FleetAspire.Data.Writes;

namespace FleetAspire.Data.MachineTransition.Modes;

/// <summary>
/// <see cref="IAssignmentWrites"/> while the migration runs: every call goes to the side its unit of work was planned
/// for (<see cref="WritePlanner"/>: legacy fields while they are written, else Machine). Registered over the
/// steady-state storage by <see cref="TransitionExtensions"/>.
/// </summary>
public sealed class PhaseAssignmentWrites(WritePlanner planner, IStorageSides<IAssignmentWrites> sides) : IAssignmentWrites
{
    private Task<IAssignmentWrites> Reading() => planner.SideAsync(sides, writes: false);

    private Task<IAssignmentWrites> Writing() => planner.SideAsync(sides, writes: true);

    public async Task<bool> HoldsMachineAsync(Agent agent, CancellationToken cancellationToken) =>
        await (await Reading()).HoldsMachineAsync(agent, cancellationToken);

    public async Task<HeldMachine?> HeldAsync(Agent agent, CancellationToken cancellationToken) =>
        await (await Reading()).HeldAsync(agent, cancellationToken);

    public async Task<ClaimedRow?> ClaimPoolAsync(ClaimRequest request, CancellationToken cancellationToken) =>
        await (await Writing()).ClaimPoolAsync(request, cancellationToken);

    public async Task AttachCustomAsync(Agent agent, string customMachineId, DateTimeOffset now, CancellationToken cancellationToken) =>
        await (await Writing()).AttachCustomAsync(agent, customMachineId, now, cancellationToken);

    public async Task<HeldMachine> DetachAsync(Agent agent, DateTimeOffset now, CancellationToken cancellationToken) =>
        await (await Writing()).DetachAsync(agent, now, cancellationToken);

    public async Task<string?> HetznerChildLinkAsync(string providerId, CancellationToken cancellationToken) =>
        await (await Reading()).HetznerChildLinkAsync(providerId, cancellationToken);

    public async Task<MachineHolder?> HolderAsync(string machineId, CancellationToken cancellationToken) =>
        await (await Reading()).HolderAsync(machineId, cancellationToken);

    public async Task<bool> LockHolderAsync(MachineHolder holder, CancellationToken cancellationToken) =>
        await (await Writing()).LockHolderAsync(holder, cancellationToken);

    public async Task<IReadOnlyList<MachineHolder>> SilentAsync(DateTimeOffset cutoff, int limit, CancellationToken cancellationToken) =>
        await (await Reading()).SilentAsync(cutoff, limit, cancellationToken);
}
