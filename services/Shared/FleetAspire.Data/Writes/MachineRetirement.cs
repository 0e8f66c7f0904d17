using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Data.Writes;

/// <summary>
/// Removes a machine whose server (or registration) is gone. A machine that snapshots or health checks still name
/// becomes a tombstone (<see cref="Entities.MachineStatus.Destroyed"/>, a fresh random key nobody knows) instead, so
/// their relations stay whole and the foreign keys the contract adds never cascade away a snapshot with its server.
/// </summary>
public static class MachineRetirement
{
    public static Task RetireAsync(FleetDbContext db, string machineId, CancellationToken cancellationToken) =>
        db.Database.ExecuteSqlInterpolatedAsync($"""
            WITH kept AS (
                UPDATE machines SET status = 'destroyed', shared_key = encode(gen_random_bytes(24), 'hex'), last_seen_at = now()
                WHERE id = {machineId}
                  AND (EXISTS (SELECT 1 FROM machine_snapshots s WHERE s.machine_ref = {machineId})
                       OR EXISTS (SELECT 1 FROM machine_health_checks h WHERE h.machine_ref = {machineId}))
                RETURNING id)
            DELETE FROM machines WHERE id = {machineId} AND NOT EXISTS (SELECT 1 FROM kept)
            """, cancellationToken);
}
