using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Data.MachineTransition.Shadow;
using FleetAspire.Machines.Application;

namespace FleetAspire.Machines.MachineTransition;

/// <summary>
/// <see cref="ICustomMachineReads"/> while the migration runs: each read served by the side the phase names (the
/// legacy table, or Machine), and the machines it served offered for a shadow comparison with the other side, shared
/// keys by fingerprint (sampled; never on the request path).
/// </summary>
public sealed class PhaseCustomMachineReads(TransitionModeResolver modes, CustomMachineReads machine, LegacyCustomMachineReads legacy,
    ShadowCompareQueue shadow) : ICustomMachineReads
{
    public async Task<CustomMachineView?> FindAsync(string id, string? owner, CancellationToken cancellationToken)
    {
        var (mode, side) = await modes.ReadSideAsync<ICustomMachineReads>(machine, legacy);
        var found = await side.FindAsync(id, owner, cancellationToken);
        if (found is not null)
        {
            shadow.Offer(mode, MachineShadow.Machines([found.Id]));
        }

        return found;
    }

    public async Task<IReadOnlyList<CustomMachineView>> PageAsync(string? owner, string? after, int take, CancellationToken cancellationToken)
    {
        var (mode, side) = await modes.ReadSideAsync<ICustomMachineReads>(machine, legacy);
        var rows = await side.PageAsync(owner, after, take, cancellationToken);
        // The row past the page only tells whether another page exists: it was not served.
        var served = rows.Take(take).Select(c => c.Id).ToList();
        if (served.Count > 0)
        {
            shadow.Offer(mode, MachineShadow.Machines(served));
        }

        return rows;
    }
}
