using FleetAspire.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;

namespace FleetAspire.Data.Writes;

/// <summary>The claim statement's parameters, how it runs and its result shape, the same in both implementations.</summary>
public static class ClaimCommands
{
    /// <summary>
    /// Runs the claim as one batch on the context's connection — no BEGIN, no COMMIT: the batch is its own implicit
    /// transaction, committed with its one round trip — behind <paramref name="fence"/> (the migration's epoch fence
    /// while it runs). Prepared statements outlive the pooled connection, so after the first claim on a physical
    /// connection PostgreSQL skips parsing and planning.
    /// </summary>
    public static async Task<T> RunAsync<T>(FleetDbContext db, IBatchFence fence, string sql, ClaimRequest request,
        Func<NpgsqlDataReader, Task<T>> read, CancellationToken cancellationToken)
    {
        if (db.Database.CurrentTransaction is not null)
        {
            throw new InvalidOperationException("A claim is a transaction of its own: it runs outside any other.");
        }

        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var batch = new NpgsqlBatch((NpgsqlConnection)db.Database.GetDbConnection());
            var claim = new NpgsqlBatchCommand(sql);
            claim.Parameters.Add(new NpgsqlParameter<string>("agent_id", NpgsqlDbType.Text) { TypedValue = request.AgentId });
            claim.Parameters.Add(new NpgsqlParameter<string>("user_id", NpgsqlDbType.Text) { TypedValue = request.UserId });
            claim.Parameters.Add(new NpgsqlParameter<bool>("is_operator", NpgsqlDbType.Boolean) { TypedValue = request.IsOperator });
            claim.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", NpgsqlDbType.TimestampTz) { TypedValue = request.Now });
            claim.Parameters.Add(new NpgsqlParameter<Guid>("message_id", NpgsqlDbType.Uuid) { TypedValue = request.MessageId });
            claim.Parameters.Add(new NpgsqlParameter<string>("message_type", NpgsqlDbType.Text) { TypedValue = ClaimedEvent.MessageType });
            claim.Parameters.Add(new NpgsqlParameter<string>("event_payload", NpgsqlDbType.Jsonb) { TypedValue = ClaimedEvent.Template(request) });
            claim.Parameters.Add(new NpgsqlParameter<string[]>("machine_id_path", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = ClaimedEvent.MachineIdPath });
            claim.Parameters.Add(new NpgsqlParameter<string[]>("provider_machine_id_path", NpgsqlDbType.Array | NpgsqlDbType.Text)
            {
                TypedValue = ClaimedEvent.ProviderMachineIdPath,
            });
            claim.Parameters.Add(new NpgsqlParameter("trace_parent", NpgsqlDbType.Text) { Value = (object?)request.TraceParent ?? DBNull.Value });
            batch.BatchCommands.Add(claim);
            return await fence.RunAsync(batch, read, cancellationToken);
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    /// <summary>What both claim statements return, by column name: the agent after the claim and the machine it holds.</summary>
    public static (Agent Agent, HeldMachine Machine) Read(NpgsqlDataReader reader)
    {
        var ipv4 = reader.GetOrdinal("machine_ipv4");
        var machine = new HeldMachine(reader.GetString(reader.GetOrdinal("machine_id")), MachineTypes.Hetzner,
            reader.IsDBNull(ipv4) ? null : reader.GetString(ipv4), reader.GetString(reader.GetOrdinal("machine_ref")));
        var agent = new Agent
        {
            Id = reader.GetString(reader.GetOrdinal("id")),
            Name = reader.GetString(reader.GetOrdinal("name")),
            UserId = reader.GetString(reader.GetOrdinal("user_id")),
            Status = reader.GetString(reader.GetOrdinal("status")),
            CreatedAt = reader.GetFieldValue<DateTimeOffset>(reader.GetOrdinal("created_at")),
            UpdatedAt = reader.GetFieldValue<DateTimeOffset>(reader.GetOrdinal("updated_at")),
        };
        return (agent, machine);
    }
}
