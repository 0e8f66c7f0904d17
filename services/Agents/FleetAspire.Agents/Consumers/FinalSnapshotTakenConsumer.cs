using FleetAspire.Contracts.Machines;
using FleetAspire.Contracts.Snapshots;
using FleetAspire.Data;
using FleetAspire.Data.Assignments;
using FleetAspire.Data.Entities;
using FleetAspire.Data.Writes;
using FleetAspire.Messaging;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Agents.Consumers;

/// <summary>
/// Finishes an agent's deletion once its final snapshot exists: releases the machine (which sends
/// <c>MachineReleased</c>, so the pool destroys the server) and deletes the agent, in one transaction.
/// Idempotent by nature: a second delivery finds the agent gone (or no longer deleting) and does nothing.
/// </summary>
public sealed class FinalSnapshotTakenConsumer(FleetDbContext db, IAssignmentWrites assignments, OutboxSignal outbox, TimeProvider time) : IConsumer<FinalSnapshotTaken>
{
    public async Task Consume(ConsumeContext<FinalSnapshotTaken> context)
    {
        var message = context.Message;
        var deleted = await db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            await using var tx = await db.Database.BeginTransactionAsync(context.CancellationToken);
            var agent = await AgentLocks.LockAgentAsync(db, message.AgentId, ownerFilter: null, context.CancellationToken);
            if (agent is null || agent.Status != AgentStatus.Deleting)
            {
                return false;
            }

            if (await assignments.HoldsMachineAsync(agent, context.CancellationToken))
            {
                await assignments.DetachAsync(agent, time.GetUtcNow(), context.CancellationToken);
            }

            db.Agents.Remove(agent);
            await db.SaveChangesAsync(context.CancellationToken);
            await tx.CommitAsync(context.CancellationToken);
            return true;
        });
        if (deleted)
        {
            outbox.Notify();
        }
    }
}
