using FleetAspire.Data.Entities;
using FleetAspire.Data.Reads;

namespace FleetAspire.Data.MachineTransition;

/// <summary>Children of a machine by the legacy string id they carry, while the legacy side is authoritative.</summary>
public sealed class LegacyMachineChildReads(FleetDbContext db) : IMachineChildReads
{
    public IQueryable<MachineSnapshot> Snapshots(string machineId) => db.MachineSnapshots.Where(s => s.MachineId == machineId);

    public IQueryable<MachineHealthCheck> HealthChecks(string machineId) => db.MachineHealthChecks.Where(h => h.MachineId == machineId);
}
