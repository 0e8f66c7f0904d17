using System.Security.Claims;
using FleetAspire.Contracts.Machines;
using FleetAspire.Data;
using FleetAspire.Data.Entities;
using FleetAspire.Data.Outbox;
using FleetAspire.Data.Writes;
using FleetAspire.ServiceDefaults.Auth;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Machines.Application;

/// <summary>
/// The steady state: a custom machine is a <see cref="Machine"/> of type custom, named by its custom machine id
/// (<see cref="Machine.LegacyId"/>, the id clients know); its holder is the agent whose relation points at it.
/// </summary>
public sealed class CustomMachineWrites(FleetDbContext db, IAssignmentWrites assignments, TimeProvider time) : ICustomMachineWrites
{
    private IQueryable<Machine> Custom(string id, string? owner) =>
        db.Machines.Where(m => m.Type == MachineTypes.Custom && m.LegacyId == id && (owner == null || m.UserId == owner));

    private static CustomMachineView View(Machine m, string? holder) =>
        new(m.LegacyId, m.Ipv4, m.Port, m.UserId!, holder, m.Os, m.Arch, m.CpuCount, m.MemoryGb, m.SharedKey, m.CreatedAt, m.LastSeenAt);

    private Task<string?> HolderAsync(string machineRef, CancellationToken cancellationToken) =>
        db.Agents.Where(a => a.MachineRef == machineRef).Select(a => a.Id).FirstOrDefaultAsync(cancellationToken);

    private Task<Machine?> LockAsync(string id, string? owner, CancellationToken cancellationToken) =>
        db.Machines
            .FromSql($"SELECT * FROM machines WHERE type = 'custom' AND legacy_id = {id} FOR UPDATE")
            .Where(m => owner == null || m.UserId == owner)
            .FirstOrDefaultAsync(cancellationToken);

    /// <summary>
    /// A user's (ipv4, port) is unique. Machine has no such index (it holds pool machines too), so registrations and
    /// address changes of one user are serialised by a transaction-scoped lock and checked under it.
    /// </summary>
    private async Task<bool> AddressTakenAsync(string userId, string ipv4, int port, string? except, CancellationToken cancellationToken)
    {
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock(hashtextextended({"custom-address:" + userId}, 0))", cancellationToken);
        return await db.Machines.AnyAsync(m => m.Type == MachineTypes.Custom && m.UserId == userId && m.Ipv4 == ipv4 && m.Port == port
            && (except == null || m.LegacyId != except), cancellationToken);
    }

    public async Task<(MachineOutcome Outcome, CustomMachineView? Machine)> RegisterAsync(string userId, RegisterCustomMachine request, CancellationToken cancellationToken)
    {
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        if (await AddressTakenAsync(userId, request.Ipv4, request.Port, null, cancellationToken))
        {
            return (MachineOutcome.Duplicate, null);
        }

        var legacyId = EntityIds.New(EntityIds.CustomMachine);
        var now = time.GetUtcNow();
        // The id comes from the one derivation function, so a machine registered now keeps its id in every phase.
        var rows = await db.Database.ExecuteSqlAsync($"""
            INSERT INTO machines (id, type, ipv4, shared_key, port, status, user_id, os, arch, cpu_count, memory_gb, created_at, last_seen_at, legacy_id)
            VALUES (fleet_machine_id('custom', {legacyId}), 'custom', {request.Ipv4}, {request.SharedKey}, {request.Port}, 'offline', {userId},
                    {request.Os}, {request.Arch}, {request.CpuCount}, {request.MemoryGb}, {now}, {now}, {legacyId})
            """, cancellationToken);
        var machine = await Custom(legacyId, userId).AsNoTracking().FirstAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return rows == 1 ? (MachineOutcome.Ok, View(machine, null)) : (MachineOutcome.Duplicate, null);
    }

    public async Task<(MachineOutcome Outcome, CustomMachineView? Machine)> UpdateAsync(ClaimsPrincipal caller, string id, UpdateCustomMachine update, CancellationToken cancellationToken)
    {
        var userId = caller.UserId();
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var found = await Custom(id, userId).AsNoTracking().Select(m => new { m.Id }).FirstOrDefaultAsync(cancellationToken);
        if (found is null)
        {
            return (MachineOutcome.NotFound, null);
        }

        // Agent first, machine second: the lock order every assignment path uses. The agent holds no copies here,
        // but a concurrent release or assignment of this machine must not interleave with the update.
        var holderId = await HolderAsync(found.Id, cancellationToken);
        if (holderId is not null)
        {
            await AgentLocks.LockAgentAsync(db, holderId, null, cancellationToken);
        }

        var machine = (await LockAsync(id, userId, cancellationToken))!;
        var ipv4 = update.Ipv4 ?? machine.Ipv4;
        var port = update.Port ?? machine.Port;
        if ((ipv4 != machine.Ipv4 || port != machine.Port) && await AddressTakenAsync(userId, ipv4, port, id, cancellationToken))
        {
            return (MachineOutcome.Duplicate, null);
        }

        machine.Ipv4 = ipv4;
        machine.Port = port;
        machine.SharedKey = update.SharedKey ?? machine.SharedKey;
        machine.Os = update.Os ?? machine.Os;
        machine.Arch = update.Arch ?? machine.Arch;
        machine.CpuCount = update.CpuCount ?? machine.CpuCount;
        machine.MemoryGb = update.MemoryGb ?? machine.MemoryGb;
        machine.LastSeenAt = time.GetUtcNow();
        await db.SaveChangesAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return (MachineOutcome.Ok, View(machine, await HolderAsync(machine.Id, cancellationToken)));
    }

    public async Task<MachineOutcome> DeleteAsync(ClaimsPrincipal caller, string id, CancellationToken cancellationToken)
    {
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var machine = await LockAsync(id, caller.UserId(), cancellationToken);
        if (machine is null)
        {
            return MachineOutcome.NotFound;
        }

        if (await HolderAsync(machine.Id, cancellationToken) is not null)
        {
            return MachineOutcome.MachineInUse;
        }

        await MachineRetirement.RetireAsync(db, machine.Id, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return MachineOutcome.Ok;
    }

    public async Task<(MachineOutcome Outcome, CustomMachineView? Machine)> AssignAsync(ClaimsPrincipal caller, string id, string agentId, CancellationToken cancellationToken)
    {
        var userId = caller.UserId();
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var agent = await AgentLocks.LockAgentAsync(db, agentId, userId, cancellationToken);
        var machine = await LockAsync(id, userId, cancellationToken);
        if (machine is null)
        {
            return (MachineOutcome.NotFound, null);
        }

        if (agent is null)
        {
            return (MachineOutcome.AgentNotFound, null);
        }

        if (await HolderAsync(machine.Id, cancellationToken) is { } holder)
        {
            return (MachineOutcome.MachineInUse, View(machine, holder));
        }

        if (agent.MachineRef is not null || agent.Status != AgentStatus.Idle)
        {
            return (MachineOutcome.AgentBusy, View(machine, null));
        }

        var now = time.GetUtcNow();
        await assignments.AttachCustomAsync(agent, id, now, cancellationToken);
        db.Enqueue(agent.Id, new CustomMachineAssigned { MachineId = id, AgentId = agent.Id, AssignedAt = now });
        await db.SaveChangesAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return (MachineOutcome.Ok, View(machine, agent.Id));
    }

    public async Task<(MachineOutcome Outcome, CustomMachineView? Machine)> ReleaseAsync(ClaimsPrincipal caller, string id, CancellationToken cancellationToken)
    {
        var userId = caller.UserId();
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var found = await Custom(id, userId).AsNoTracking().Select(m => new { m.Id }).FirstOrDefaultAsync(cancellationToken);
        if (found is null)
        {
            return (MachineOutcome.NotFound, null);
        }

        var holderId = await HolderAsync(found.Id, cancellationToken);
        var agent = holderId is null ? null : await AgentLocks.LockAgentAsync(db, holderId, null, cancellationToken);
        var machine = (await LockAsync(id, userId, cancellationToken))!;
        if (agent is null || agent.MachineRef != machine.Id)
        {
            return (MachineOutcome.NotAssigned, View(machine, null));
        }

        if (agent.Status == AgentStatus.Deleting)
        {
            return (MachineOutcome.AgentBusy, View(machine, agent.Id));
        }

        await assignments.DetachAsync(agent, time.GetUtcNow(), cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return (MachineOutcome.Ok, View(await Custom(id, userId).AsNoTracking().FirstAsync(cancellationToken), null));
    }
}
