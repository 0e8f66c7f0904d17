using FleetAspire.Cloud;
using FleetAspire.Data;
using FleetAspire.Data.Entities;
using FleetAspire.Data.Writes;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace FleetAspire.Snapshots.Application;

public enum SnapshotOutcome
{
    Ok,
    AgentNotFound,
    NoMachine,
    NotSnapshottable,
    NotFound,
}

/// <summary>
/// Snapshots through the cloud provider. Only pool (hetzner) machines can be imaged: a custom machine is the user's
/// own host, which the provider cannot see. Rows are written before the provider call and deleted again if it fails,
/// so a request leaves either a snapshot with its image or nothing; deleting removes the provider image first, so no
/// billable image outlives its row.
/// </summary>
public sealed class SnapshotService(FleetDbContext db, IWrites<IAssignmentWrites> assignments, ICloudProvider provider, TimeProvider time)
{
    /// <param name="ownerFilter">The caller's user id, or null for operators.</param>
    public async Task<(SnapshotOutcome Outcome, MachineSnapshot? Snapshot)> CreateAsync(string agentId, string? ownerFilter, CancellationToken cancellationToken)
    {
        var (outcome, snapshot) = await assignments.RunAsync<(SnapshotOutcome, MachineSnapshot?)>(async writes =>
        {
            var agent = await db.Agents.AsNoTracking()
                .FirstOrDefaultAsync(a => a.Id == agentId && (ownerFilter == null || a.UserId == ownerFilter), cancellationToken);
            if (agent is null)
            {
                return (SnapshotOutcome.AgentNotFound, null);
            }

            var held = await writes.HeldAsync(agent, cancellationToken);
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
            return (SnapshotOutcome.Ok, row);
        });
        return outcome == SnapshotOutcome.Ok ? (outcome, await CompleteAsync(snapshot!, cancellationToken)) : (outcome, null);
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
            // The Machine relation is written directly only where Machine alone is written; dual-write links it otherwise.
            var machineRef = await assignments.RunAsync(writes => writes.HetznerChildLinkAsync(machineId, cancellationToken));
            existing = NewRow(new HeldMachine(machineId, MachineTypes.Hetzner, null, machineRef), userId, agentId, isFinal: true);
            db.MachineSnapshots.Add(existing);
            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
            {
                db.ChangeTracker.Clear();
                existing = await db.MachineSnapshots.FirstAsync(s => s.AgentId == agentId && s.IsFinal, cancellationToken);
            }
        }

        // REVIEW: a crash between the provider call and saving its image id leaves an image without a row; it is
        // findable by its description ("fleet snapshot <id>"), and a sweep over provider images is future work.
        return existing.ProviderImageId is null ? await CompleteAsync(existing, cancellationToken) : existing;
    }

    public async Task<SnapshotOutcome> DeleteAsync(string id, string? ownerFilter, CancellationToken cancellationToken)
    {
        var snapshot = await db.MachineSnapshots.FirstOrDefaultAsync(s => s.Id == id && (ownerFilter == null || s.UserId == ownerFilter), cancellationToken);
        if (snapshot is null)
        {
            return SnapshotOutcome.NotFound;
        }

        if (snapshot.ProviderImageId is not null)
        {
            // The image goes first: if the provider refuses, the row stays and the delete can be retried.
            await provider.DeleteImageAsync(snapshot.ProviderImageId, cancellationToken);
        }

        db.MachineSnapshots.Remove(snapshot);
        await db.SaveChangesAsync(cancellationToken);
        return SnapshotOutcome.Ok;
    }

    private async Task<MachineSnapshot> CompleteAsync(MachineSnapshot snapshot, CancellationToken cancellationToken)
    {
        CloudImage image;
        try
        {
            image = await provider.CreateImageAsync(snapshot.MachineId, $"fleet snapshot {snapshot.Id}", cancellationToken);
        }
        catch when (!snapshot.IsFinal)
        {
            // Nothing half-written: a failed request leaves no row behind. (A final snapshot's row stays for the retry.)
            db.MachineSnapshots.Remove(snapshot);
            await db.SaveChangesAsync(CancellationToken.None);
            throw;
        }

        snapshot.ProviderImageId = image.Id;
        snapshot.SizeBytes = image.SizeBytes;
        snapshot.Status = image.Available ? SnapshotStatus.Available : SnapshotStatus.Creating;
        await db.SaveChangesAsync(CancellationToken.None);
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
