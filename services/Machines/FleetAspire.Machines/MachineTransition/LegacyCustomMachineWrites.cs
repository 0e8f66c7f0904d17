using System.Security.Claims;
using FleetAspire.Contracts.Machines;
using FleetAspire.Data;
using FleetAspire.Data.Entities;
using FleetAspire.Data.MachineTransition;
using FleetAspire.Data.Outbox;
using FleetAspire.Data.Writes;
using FleetAspire.Machines.Application;
using FleetAspire.ServiceDefaults.Auth;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace FleetAspire.Machines.MachineTransition;

/// <summary>
/// Custom machines in today's model: the legacy table, with the agent carrying copies of the machine's fields.
/// In the dual-write phases the commit writes the same change to Machine.
/// </summary>
public sealed class LegacyCustomMachineWrites(FleetDbContext db, LegacyAssignmentWrites assignments, TimeProvider time) : ICustomMachineWrites
{
    private static CustomMachineView View(CustomMachine c) =>
        new(c.Id, c.Ipv4, c.Port, c.UserId, c.CurrentAgentId, c.Os, c.Arch, c.CpuCount, c.MemoryGb, c.SharedKey, c.CreatedAt, c.UpdatedAt);

    private static Task<CustomMachine?> LockAsync(FleetDbContext db, string machineId, string? ownerFilter, CancellationToken cancellationToken) =>
        db.CustomMachines
            .FromSql($"SELECT * FROM custom_machines WHERE id = {machineId} FOR UPDATE")
            .Where(c => ownerFilter == null || c.UserId == ownerFilter)
            .FirstOrDefaultAsync(cancellationToken);

    public async Task<(MachineOutcome Outcome, CustomMachineView? Machine)> RegisterAsync(string userId, RegisterCustomMachine request, CancellationToken cancellationToken)
    {
        // The common duplicate is answered by a read; the unique index below still decides races.
        if (await db.CustomMachines.AnyAsync(c => c.UserId == userId && c.Ipv4 == request.Ipv4 && c.Port == request.Port, cancellationToken))
        {
            return (MachineOutcome.Duplicate, null);
        }

        var now = time.GetUtcNow();
        var machine = new CustomMachine
        {
            Id = EntityIds.New(EntityIds.CustomMachine),
            Ipv4 = request.Ipv4,
            Port = request.Port,
            SharedKey = request.SharedKey,
            UserId = userId,
            Os = request.Os,
            Arch = request.Arch,
            CpuCount = request.CpuCount,
            MemoryGb = request.MemoryGb,
            CreatedAt = now,
            UpdatedAt = now,
        };
        db.CustomMachines.Add(machine);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // The unique index on (user_id, ipv4, port) decides, so two concurrent registrations cannot both win.
            db.ChangeTracker.Clear();
            return (MachineOutcome.Duplicate, null);
        }

        return (MachineOutcome.Ok, View(machine));
    }

    /// <summary>
    /// Updates the owner's machine. An assigned machine's agent carries copies of ipv4 and sharedKey (today's model),
    /// so they change together in the same transaction.
    /// </summary>
    public async Task<(MachineOutcome Outcome, CustomMachineView? Machine)> UpdateAsync(ClaimsPrincipal caller, string id, UpdateCustomMachine update, CancellationToken cancellationToken)
    {
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var machine = await db.CustomMachines.AsNoTracking().FirstOrDefaultAsync(c => c.Id == id && c.UserId == caller.UserId(), cancellationToken);
        if (machine is null)
        {
            return (MachineOutcome.NotFound, null);
        }

        // Agent first, machine second: the lock order every assignment path uses.
        var agent = machine.CurrentAgentId is null ? null : await AgentLocks.LockAgentAsync(db, machine.CurrentAgentId, null, cancellationToken);
        machine = (await LockAsync(db, id, caller.UserId(), cancellationToken))!;
        var now = time.GetUtcNow();
        machine.Ipv4 = update.Ipv4 ?? machine.Ipv4;
        machine.Port = update.Port ?? machine.Port;
        machine.SharedKey = update.SharedKey ?? machine.SharedKey;
        machine.Os = update.Os ?? machine.Os;
        machine.Arch = update.Arch ?? machine.Arch;
        machine.CpuCount = update.CpuCount ?? machine.CpuCount;
        machine.MemoryGb = update.MemoryGb ?? machine.MemoryGb;
        machine.UpdatedAt = now;
        if (agent is not null && agent.MachineId == machine.Id)
        {
            agent.MachineIpv4 = machine.Ipv4;
            agent.MachineSharedKey = machine.SharedKey;
            agent.UpdatedAt = now;
        }

        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            return (MachineOutcome.Duplicate, null);
        }

        await tx.CommitAsync(cancellationToken);
        return (MachineOutcome.Ok, View(machine));
    }

    /// <summary>An assigned machine is not deleted under its agent: release it first (409).</summary>
    public async Task<MachineOutcome> DeleteAsync(ClaimsPrincipal caller, string id, CancellationToken cancellationToken)
    {
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var machine = await LockAsync(db, id, caller.UserId(), cancellationToken);
        if (machine is null)
        {
            return MachineOutcome.NotFound;
        }

        if (machine.CurrentAgentId is not null)
        {
            return MachineOutcome.MachineInUse;
        }

        db.CustomMachines.Remove(machine);
        await db.SaveChangesAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return MachineOutcome.Ok;
    }

    /// <summary>Assigns the caller's free machine to the caller's idle agent.</summary>
    public async Task<(MachineOutcome Outcome, CustomMachineView? Machine)> AssignAsync(ClaimsPrincipal caller, string id, string agentId, CancellationToken cancellationToken)
    {
        var userId = caller.UserId();
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var agent = await AgentLocks.LockAgentAsync(db, agentId, userId, cancellationToken);
        var machine = await LockAsync(db, id, userId, cancellationToken);
        if (machine is null)
        {
            return (MachineOutcome.NotFound, null);
        }

        if (agent is null)
        {
            return (MachineOutcome.AgentNotFound, null);
        }

        if (machine.CurrentAgentId is not null)
        {
            return (MachineOutcome.MachineInUse, View(machine));
        }

        if (agent.MachineId is not null || agent.Status != AgentStatus.Idle)
        {
            return (MachineOutcome.AgentBusy, View(machine));
        }

        var now = time.GetUtcNow();
        await assignments.AttachCustomAsync(agent, machine.Id, now, cancellationToken);
        db.Enqueue(agent.Id, new CustomMachineAssigned { MachineId = machine.Id, AgentId = agent.Id, AssignedAt = now });
        await db.SaveChangesAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return (MachineOutcome.Ok, View(machine));
    }

    /// <summary>Detaches the caller's machine from its agent (both rows, one transaction).</summary>
    public async Task<(MachineOutcome Outcome, CustomMachineView? Machine)> ReleaseAsync(ClaimsPrincipal caller, string id, CancellationToken cancellationToken)
    {
        var userId = caller.UserId();
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var current = await db.CustomMachines.AsNoTracking().Where(c => c.Id == id && c.UserId == userId).Select(c => new { c.CurrentAgentId }).FirstOrDefaultAsync(cancellationToken);
        if (current is null)
        {
            return (MachineOutcome.NotFound, null);
        }

        var agent = current.CurrentAgentId is null ? null : await AgentLocks.LockAgentAsync(db, current.CurrentAgentId, null, cancellationToken);
        var machine = (await LockAsync(db, id, userId, cancellationToken))!;
        if (agent is null || machine.CurrentAgentId != agent.Id || agent.MachineId != machine.Id)
        {
            return (MachineOutcome.NotAssigned, View(machine));
        }

        if (agent.Status == AgentStatus.Deleting)
        {
            return (MachineOutcome.AgentBusy, View(machine));
        }

        await assignments.DetachAsync(agent, time.GetUtcNow(), cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return (MachineOutcome.Ok, View(await db.CustomMachines.AsNoTracking().FirstAsync(c => c.Id == id, cancellationToken)));
    }
}
