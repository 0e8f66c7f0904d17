using FleetAspire.Cloud;
using FleetAspire.Data;
using FleetAspire.Data.Entities;
using FleetAspire.Data.Writes;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace FleetAspire.Snapshots.Application;

/// <summary>
/// Snapshots through the cloud provider. Only pool (hetzner) machines can be imaged: a custom machine is the user's
/// own host, which the provider cannot see. Rows are written before the provider call and deleted again if it fails,
/// so a request leaves either a snapshot with its image or nothing; deleting removes the provider image first, so no
/// billable image outlives its row.
/// </summary>
public sealed class SnapshotService(FleetDbContext db, IAssignmentWrites assignments, ICloudProvider provider, TimeProvider time)
{
    /// <param name="ownerFilter">The caller's user id, or null for operators.</param>
    public async Task<(SnapshotOutcome Outcome, MachineSnapshot? Snapshot)> CreateAsync(string agentId, string? ownerFilter, CancellationToken cancellationToken)
    {
        var (outcome, snapshot) = await db.Database.CreateExecutionStrategy().ExecuteAsync<(SnapshotOutcome, MachineSnapshot?)>(async () =>
        {
            await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
            // The agent row locked, as every write path does first: a release cannot remove the machine between
            // reading what the agent holds and the snapshot row that names it.
            var agent = await AgentLocks.LockAgentAsync(db, agentId, ownerFilter, cancellationToken);
            if (agent is null)
            {
                return (SnapshotOutcome.AgentNotFound, null);
            }

            var held = await assignments.HeldAsync(agent, cancellationToken);
            if (held is null)
            {
                return (SnapshotOutcome.NoMachine, null);
            }

            if (held.MachineType != MachineTypes.Hetzner)
            {
                return (SnapshotOutcome.NotSnapshottable, null);
            }

            var row = NewRow(held, agent.UserId, agent.Id, isFinal: false);
            db.MachineSnapshots.Add(row);
            await db.SaveChangesAsync(cancellationToken);
            await tx.CommitAsync(cancellationToken);
            return (SnapshotOutcome.Ok, row);
        });
        if (outcome != SnapshotOutcome.Ok)
        {
            return (outcome, null);
        }

        var completed = await CompleteAsync(snapshot!, cancellationToken);
        return completed is null ? (SnapshotOutcome.Busy, null) : (SnapshotOutcome.Ok, completed);
    }

    /// <summary>
    /// The final snapshot of a deleted agent's machine: created once per agent (a unique index decides between
    /// concurrent deliveries) and completed if an earlier attempt stopped between row and image.
    /// </summary>
    public async Task<MachineSnapshot> TakeFinalAsync(string agentId, string userId, string machineId, CancellationToken cancellationToken)
    {
        var existing = await db.MachineSnapshots.FirstOrDefaultAsync(s => s.AgentId == agentId && s.IsFinal, cancellationToken);
        if (existing is null)
        {
            // The relation is written directly only where Machine alone is written (dual-write links it otherwise), so the
            // link and the row are one unit of work: a flip between them cannot leave a row without its relation.
            existing = await db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
            {
                var machineRef = await assignments.HetznerChildLinkAsync(machineId, cancellationToken);
                var row = NewRow(new HeldMachine(machineId, MachineTypes.Hetzner, null, machineRef), userId, agentId, isFinal: true);
                db.MachineSnapshots.Add(row);
                try
                {
                    await db.SaveChangesAsync(cancellationToken);
                    return row;
                }
                catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
                {
                    db.ChangeTracker.Clear();
                    return await db.MachineSnapshots.FirstAsync(s => s.AgentId == agentId && s.IsFinal, cancellationToken);
                }
            });
        }

        // REVIEW: a crash between the provider call and saving its image id leaves an image without a row; it is
        // findable by its description ("fleet snapshot <id>"), and a sweep over provider images is future work.
        return existing.ProviderImageId is null
            ? await CompleteAsync(existing, cancellationToken) ?? throw new InvalidOperationException($"Final snapshot {existing.Id} was deleted while it was being created.")
            : existing;
    }

    /// <summary>
    /// Deletes the provider image, then the row. Safe to race: the provider's delete is idempotent and only one of
    /// concurrent deletes removes the row (the others answer NotFound, never an error). A snapshot whose image is still
    /// being created is <see cref="SnapshotOutcome.Busy"/>: deleting its row now would leave the image it is about to
    /// get without one.
    /// </summary>
    public async Task<SnapshotOutcome> DeleteAsync(string id, string? ownerFilter, CancellationToken cancellationToken)
    {
        var snapshot = await db.MachineSnapshots.AsNoTracking()
            .FirstOrDefaultAsync(s => s.Id == id && (ownerFilter == null || s.UserId == ownerFilter), cancellationToken);
        if (snapshot is null)
        {
            return SnapshotOutcome.NotFound;
        }

        if (snapshot.ProviderImageId is null)
        {
            return SnapshotOutcome.Busy;
        }

        // The image goes first: if the provider refuses, the row stays and the delete can be retried.
        await provider.DeleteImageAsync(snapshot.ProviderImageId, cancellationToken);
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var deleted = await db.MachineSnapshots.Where(s => s.Id == id).ExecuteDeleteAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return deleted == 0 ? SnapshotOutcome.NotFound : SnapshotOutcome.Ok;
    }

    /// <summary>
    /// Creates the provider image and records it on the row — with the provider call outside any transaction. Null when
    /// the row was deleted meanwhile: the image just created is deleted again, so none outlives its row.
    /// </summary>
    private async Task<MachineSnapshot?> CompleteAsync(MachineSnapshot snapshot, CancellationToken cancellationToken)
    {
        CloudImage image;
        try
        {
            image = await provider.CreateImageAsync(snapshot.MachineId, $"fleet snapshot {snapshot.Id}", cancellationToken);
        }
        catch when (!snapshot.IsFinal)
        {
            // Nothing half-written: a failed request leaves no row behind. (A final snapshot's row stays for the retry.)
            await using var undo = await db.Database.BeginTransactionAsync(CancellationToken.None);
            await db.MachineSnapshots.Where(s => s.Id == snapshot.Id && s.ProviderImageId == null).ExecuteDeleteAsync(CancellationToken.None);
            await undo.CommitAsync(CancellationToken.None);
            throw;
        }

        var status = image.Available ? SnapshotStatus.Available : SnapshotStatus.Creating;
        await using (var tx = await db.Database.BeginTransactionAsync(CancellationToken.None))
        {
            var recorded = await db.MachineSnapshots.Where(s => s.Id == snapshot.Id).ExecuteUpdateAsync(u => u
                .SetProperty(s => s.ProviderImageId, image.Id).SetProperty(s => s.SizeBytes, image.SizeBytes).SetProperty(s => s.Status, status),
                CancellationToken.None);
            await tx.CommitAsync(CancellationToken.None);
            if (recorded == 0)
            {
                await provider.DeleteImageAsync(image.Id, CancellationToken.None);
                return null;
            }
        }

        db.ChangeTracker.Clear();
        snapshot.ProviderImageId = image.Id;
        snapshot.SizeBytes = image.SizeBytes;
        snapshot.Status = status;
        return snapshot;
    }

    /// <summary>
    /// A child row names its machine by the public id clients use (<c>machine_id</c>, written in every phase: it is
    /// the row's own key to its machine until the contract makes the relation strict, ADR 0012) and, where Machine
    /// alone is written, by the relation too.
    /// </summary>
    private MachineSnapshot NewRow(HeldMachine machine, string userId, string agentId, bool isFinal) => new()
    {
        Id = EntityIds.New(EntityIds.Snapshot),
        MachineId = machine.MachineId,
        MachineRef = machine.MachineRef,
        UserId = userId,
        AgentId = agentId,
        IsFinal = isFinal,
        Status = SnapshotStatus.Creating,
        CreatedAt = time.GetUtcNow(),
    };
}
