using FleetAspire.Data.Entities;

namespace FleetAspire.Data.Reads;

/// <summary>
/// Snapshots and health checks of one machine, named by its legacy id (provider id or custom machine id — what
/// clients have always passed). The storage interface the snapshots and machines services read through; the
/// implementation is chosen by the migration phase (<c>MachineTransition/Modes/MachineChildReadsSelector</c>).
/// </summary>
public interface IMachineChildReads
{
    IQueryable<MachineSnapshot> Snapshots(string machineId);

    IQueryable<MachineHealthCheck> HealthChecks(string machineId);
}
