using FleetAspire.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Data.Reads;

/// <summary>
/// The steady state: children of the Machine whose legacy id (or Machine id) is given, by the relation — a destroyed
/// machine's too: its snapshots are what its tombstone is kept for.
/// </summary>
public sealed class MachineChildReads(FleetDbContext db) : IMachineChildReads
{
    private IQueryable<Machine> Named(string machineId) =>
        db.Machines.IgnoreQueryFilters().Where(m => m.LegacyId == machineId || m.Id == machineId);

    public IQueryable<MachineSnapshot> Snapshots(string machineId) =>
        db.MachineSnapshots.Where(s => Named(machineId).Any(m => m.Id == s.MachineRef));

    public IQueryable<MachineHealthCheck> HealthChecks(string machineId) =>
        db.MachineHealthChecks.Where(h => Named(machineId).Any(m => m.Id == h.MachineRef));
}
