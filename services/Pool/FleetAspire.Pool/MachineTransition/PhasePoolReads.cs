using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Data.MachineTransition.Shadow;
using FleetAspire.Pool.Application;

namespace FleetAspire.Pool.MachineTransition;

/// <summary>
/// <see cref="IPoolReads"/> while the migration runs: each read served by the side the phase names (the legacy pool
/// table, or Machine), and the machines a page served offered for a shadow comparison with the other side (sampled;
/// never on the request path).
/// </summary>
public sealed class PhasePoolReads(TransitionModeResolver modes, MachinePoolReads machine, LegacyPoolReads legacy, ShadowCompareQueue shadow) : IPoolReads
{
    public async Task<IReadOnlyDictionary<string, int>> CountsAsync(CancellationToken cancellationToken) =>
        await (await modes.ReadSideAsync<IPoolReads>(machine, legacy)).Side.CountsAsync(cancellationToken);

    public async Task<IReadOnlyList<PoolMachineView>> PageAsync(string? status, string? after, int take, CancellationToken cancellationToken)
    {
        var (mode, side) = await modes.ReadSideAsync<IPoolReads>(machine, legacy);
        var rows = await side.PageAsync(status, after, take, cancellationToken);
        // By provider id: a server still being created has none and is not compared; the row past the page was not served.
        var served = rows.Take(take).Select(m => m.ProviderId).OfType<string>().ToList();
        if (served.Count > 0)
        {
            shadow.Offer(mode, MachineShadow.Machines(served));
        }

        return rows;
    }
}
