using System.Globalization;
using FleetAspire.Data.Entities;
using FleetAspire.Data.MachineTransition.Shadow;
using FleetAspire.Data.Reads;

namespace FleetAspire.Data.MachineTransition.Modes;

/// <summary>
/// <see cref="IMachineChildReads"/> while the migration runs: each read served by the side the phase names (legacy
/// machine ids, or the Machine relation), and what it served offered for a shadow comparison of its links (sampled;
/// never on the request path). Registered over the steady-state reads by <see cref="TransitionExtensions"/>.
/// </summary>
public sealed class PhaseMachineChildReads(TransitionModeResolver modes, MachineChildReads machine, LegacyMachineChildReads legacy, ShadowCompareQueue shadow)
    : IMachineChildReads
{
    public async Task<IReadOnlyList<MachineSnapshot>> SnapshotsAsync(string machineId, string? ownerId, CancellationToken cancellationToken)
    {
        var (mode, side) = await modes.ReadSideAsync<IMachineChildReads>(machine, legacy);
        var rows = await side.SnapshotsAsync(machineId, ownerId, cancellationToken);
        Offer(mode, MachineShadow.Snapshots, rows.Select(s => s.Id).ToList());
        return rows;
    }

    public async Task<IReadOnlyList<MachineHealthCheck>> HealthChecksAsync(string machineId, string? ownerId, int take, CancellationToken cancellationToken)
    {
        var (mode, side) = await modes.ReadSideAsync<IMachineChildReads>(machine, legacy);
        var rows = await side.HealthChecksAsync(machineId, ownerId, take, cancellationToken);
        Offer(mode, MachineShadow.HealthChecks, rows.Select(h => h.Id.ToString(CultureInfo.InvariantCulture)).ToList());
        return rows;
    }

    private void Offer(TransitionMode mode, string table, IReadOnlyCollection<string> ids)
    {
        if (ids.Count > 0)
        {
            shadow.Offer(mode, MachineShadow.Children(table, ids));
        }
    }
}
