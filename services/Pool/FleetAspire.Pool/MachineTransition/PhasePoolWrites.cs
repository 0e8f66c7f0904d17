using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Pool.Application;

namespace FleetAspire.Pool.MachineTransition;

/// <summary>
/// <see cref="IPoolWrites"/> while the migration runs: every call goes to the side its unit of work was planned for
/// (<see cref="WritePlanner"/>: the legacy pool table while it is written, else Machine).
/// </summary>
public sealed class PhasePoolWrites(WritePlanner planner, IStorageSides<IPoolWrites> sides) : IPoolWrites
{
    private Task<IPoolWrites> Writing() => planner.SideAsync(sides, writes: true);

    public async Task<int> CountLiveAsync(CancellationToken cancellationToken) => await (await Writing()).CountLiveAsync(cancellationToken);

    public async Task<int> PromoteBootedAsync(CancellationToken cancellationToken) => await (await Writing()).PromoteBootedAsync(cancellationToken);

    public async Task<int> RemoveLostAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) =>
        await (await Writing()).RemoveLostAsync(cutoff, cancellationToken);

    public async Task ProvisionOneAsync(CancellationToken cancellationToken) => await (await Writing()).ProvisionOneAsync(cancellationToken);

    public async Task<bool> RetireOneAsync(CancellationToken cancellationToken) => await (await Writing()).RetireOneAsync(cancellationToken);
}
