using FleetAspire.Contracts.Agents;
using FleetAspire.Contracts.Snapshots;
using FleetAspire.Data;
using FleetAspire.Data.Entities;
using FleetAspire.Data.Outbox;
using FleetAspire.Messaging;
using FleetAspire.Snapshots.Application;
using MassTransit;

namespace FleetAspire.Snapshots.Consumers;

/// <summary>
/// Takes the final snapshot of a deleted agent's machine, then announces <see cref="FinalSnapshotTaken"/> so the
/// agents service releases the machine and deletes the agent. Idempotent: the final snapshot is unique per agent
/// (a redelivery finds it and only re-announces, which the agents side ignores once the agent is gone).
/// A custom machine cannot be imaged by the provider: the event says it was skipped, and deletion goes on.
/// Provider failures are retried with back-off; after the last retry the message lands in the error queue and the
/// agent stays <c>deleting</c> until the owner deletes again (which re-sends the request).
/// </summary>
public sealed class AgentDeletionRequestedConsumer(FleetDbContext db, SnapshotService snapshots, OutboxSignal outbox, TimeProvider time)
    : IConsumer<AgentDeletionRequested>
{
    public async Task Consume(ConsumeContext<AgentDeletionRequested> context)
    {
        var request = context.Message;
        string? snapshotId = null;
        string? skipped = null;
        if (request.MachineType == MachineTypes.Hetzner)
        {
            snapshotId = (await snapshots.TakeFinalAsync(request.AgentId, request.UserId, request.MachineId, context.CancellationToken)).Id;
        }
        else
        {
            skipped = "custom machines are not imaged by the cloud provider";
        }

        db.Enqueue(request.AgentId, new FinalSnapshotTaken
        {
            AgentId = request.AgentId,
            MachineId = request.MachineId,
            SnapshotId = snapshotId,
            SkippedReason = skipped,
            TakenAt = time.GetUtcNow(),
        });
        await db.SaveChangesAsync(context.CancellationToken);
        outbox.Notify();
    }
}
