using FleetAspire.Agents.Application;
using FleetAspire.Data;
using FleetAspire.Data.Entities;
using FleetAspire.Data.MachineTransition;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace FleetAspire.Agents.MachineTransition;

/// <summary>
/// Reads an agent's machine from the legacy copies on the agent row (and the custom machine's port), while those are
/// authoritative. The Machine id shown is the one the migration derives (the database's <c>fleet_machine_id</c>, the
/// single derivation), so clients see the same id before and after the switch.
/// </summary>
public sealed class LegacyAgentMachineStore(FleetDbContext db) : IAgentMachineStore
{
    public async Task<IReadOnlyDictionary<string, AgentMachine>> ForAgentsAsync(IReadOnlyCollection<string> agentIds, CancellationToken cancellationToken)
    {
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var command = new NpgsqlCommand($"""
                SELECT a.id, fleet_machine_id(a.machine_type, a.machine_id) AS machine_ref, a.machine_id, a.machine_type, a.machine_ipv4,
                       coalesce(c.port, {Machine.DefaultPort}) AS port
                FROM agents a LEFT JOIN custom_machines c ON a.machine_type = 'custom' AND c.id = a.machine_id
                WHERE a.id = ANY(@ids) AND a.machine_id IS NOT NULL
                """, connection, (NpgsqlTransaction?)db.Database.CurrentTransaction?.GetDbTransaction());
            command.Parameters.AddWithValue("ids", agentIds.ToArray());
            var machines = new Dictionary<string, AgentMachine>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var type = reader.GetStringOrNull("machine_type");
                var legacyId = reader.Get<string>("machine_id");
                machines[reader.Get<string>("id")] = new AgentMachine(reader.GetStringOrNull("machine_ref"), legacyId, type,
                    type == MachineTypes.Hetzner ? legacyId : null, reader.GetStringOrNull("machine_ipv4"), reader.Get<int>("port"),
                    MachineStatus.InUse);
            }

            return machines;
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    public async Task<ConnectionDetails?> ConnectionAsync(string agentId, CancellationToken cancellationToken)
    {
        var agent = await db.Agents.AsNoTracking().FirstOrDefaultAsync(a => a.Id == agentId, cancellationToken);
        if (agent?.MachineId is null || agent.MachineIpv4 is null || agent.MachineSharedKey is null)
        {
            return null;
        }

        var port = agent.MachineType == MachineTypes.Custom
            ? await db.CustomMachines.Where(c => c.Id == agent.MachineId).Select(c => (int?)c.Port).FirstOrDefaultAsync(cancellationToken)
            : null;
        return new ConnectionDetails(agent.MachineIpv4, port ?? CustomMachine.DefaultPort, agent.MachineSharedKey);
    }

    public ValueTask<IQueryable<Agent>> WhereMachineTypeAsync(IQueryable<Agent> agents, string machineType) =>
        ValueTask.FromResult(agents.Where(a => a.MachineType == machineType));
}
