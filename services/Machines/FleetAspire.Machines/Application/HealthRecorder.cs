using FleetAspire.Contracts.Machines;
using FleetAspire.Data;
using FleetAspire.Data.Assignments;
using FleetAspire.Data.Entities;
using FleetAspire.Data.Outbox;
using FleetAspire.Data.Writes;
using FleetAspire.Messaging;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace FleetAspire.Machines.Application;

/// <summary>
/// Stores every health result and announces transitions: the check that makes the last N all failures publishes
/// <see cref="MachineBecameUnhealthy"/>, the first success after that publishes <see cref="MachineRecovered"/>.
/// The check and its event commit together; checks of one machine are serialised by a transaction-scoped advisory
/// lock, so two concurrent heartbeats cannot both see (or both miss) the same transition.
/// </summary>
public sealed class HealthRecorder(FleetDbContext db, IAssignmentWrites assignments, OutboxSignal outbox, IOptions<HealthCheckOptions> options, TimeProvider time)
{
    /// <summary>
    /// Stores one check of the machine the agent holds; in the Machine-only phase the row carries its relation directly.
    /// Writes nothing when the agent no longer holds the machine (released since the holder was read: a check must
    /// never name a machine row a release has just removed), or when a heartbeat's signed time is not later than the
    /// last one accepted from the machine (a replay). <paramref name="signedAt"/>: the heartbeat's signed Unix seconds;
    /// null for the sweeper's missed checks.
    /// </summary>
    public async Task<HealthRecord> RecordAsync(MachineHolder holder, string outcome, int? latencyMs, long? signedAt,
        CancellationToken cancellationToken)
    {
        var (agentId, machineId) = (holder.AgentId, holder.MachineId);
        var threshold = options.Value.FailureThreshold;
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        // Agent first, then the machine's check lock: the order every write path takes.
        if (!await assignments.LockHolderAsync(holder, cancellationToken))
        {
            return HealthRecord.NotHeld;
        }

        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock(hashtextextended({"health:" + machineId}, 0))", cancellationToken);
        // Strictly later than every heartbeat accepted before, or it is a replay; the clock moves with the check.
        if (signedAt is { } timestamp && await db.Database.ExecuteSqlAsync($"""
                INSERT INTO machine_heartbeat_clocks (machine_id, last_timestamp) VALUES ({machineId}, {timestamp})
                ON CONFLICT (machine_id) DO UPDATE SET last_timestamp = EXCLUDED.last_timestamp
                WHERE machine_heartbeat_clocks.last_timestamp < EXCLUDED.last_timestamp
                """, cancellationToken) == 0)
        {
            return HealthRecord.Replayed;
        }

        var wasUnhealthy = await MachineHealth.IsUnhealthyAsync(db, agentId, machineId, threshold, cancellationToken);
        var now = time.GetUtcNow();
        db.MachineHealthChecks.Add(new MachineHealthCheck
        {
            AgentId = agentId,
            MachineId = machineId,
            Outcome = outcome,
            LatencyMs = latencyMs,
            CheckedAt = now,
            MachineRef = holder.MachineRef,
        });
        await db.SaveChangesAsync(cancellationToken);
        var isUnhealthy = await MachineHealth.IsUnhealthyAsync(db, agentId, machineId, threshold, cancellationToken);
        if (isUnhealthy && !wasUnhealthy)
        {
            db.Enqueue(agentId, new MachineBecameUnhealthy { AgentId = agentId, MachineId = machineId, DetectedAt = now });
        }
        else if (wasUnhealthy && !isUnhealthy)
        {
            db.Enqueue(agentId, new MachineRecovered { AgentId = agentId, MachineId = machineId, DetectedAt = now });
        }

        await db.SaveChangesAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        if (isUnhealthy != wasUnhealthy)
        {
            outbox.Notify();
        }

        return HealthRecord.Recorded;
    }
}
