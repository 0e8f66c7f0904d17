using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using FleetAspire.Agents.Apis;
using FleetAspire.Contracts.Pool;
using FleetAspire.Data.Outbox;
using FleetAspire.Testing;
using Npgsql;

namespace FleetAspire.Agents.Tests;

public sealed class OutboxContractTests(FleetAppFixture app) : IClassFixture<FleetAppFixture>
{
    [Fact]
    public async Task Claim_writes_a_MachineClaimed_event_the_contract_can_read()
    {
        await app.ProvisionPoolAsync(1);
        var agent = await app.CreateAgentAsync("evented");
        using var client = app.AgentsAs(TestTokens.User("evented"));
        var claimed = (await (await client.PostAsync($"/api/agents/{agent.Id}/claim", null)).Content.ReadFromJsonAsync<AgentResponse>())!;

        var (type, payload) = await OutboxRowAsync(agent.Id, typeof(MachineClaimed).FullName!);
        var message = (MachineClaimed)JsonSerializer.Deserialize(payload, OutboxSerializer.ResolveType(type), OutboxSerializer.Options)!;

        Assert.Equal(agent.Id, message.AgentId);
        Assert.Equal(claimed.MachineId, message.ProviderMachineId);
        Assert.Equal(claimed.Machine!.Id, message.MachineId);
        Assert.StartsWith("mh_", message.MachineId, StringComparison.Ordinal);
        Assert.True(message.ClaimedAt > DateTimeOffset.UtcNow.AddMinutes(-1));
        // The row is the serializer's own document of the record: no field added, missing or formatted by hand in SQL.
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(payload), JsonNode.Parse(JsonSerializer.Serialize(message, OutboxSerializer.Options))),
            $"payload {payload} is not the serialized record");
    }

    [Fact]
    public async Task Outbox_rows_never_hold_a_shared_key()
    {
        await app.ProvisionPoolAsync(1);
        var agent = await app.CreateAgentAsync("secretive");
        using var client = app.AgentsAs(TestTokens.User("secretive"));
        (await client.PostAsync($"/api/agents/{agent.Id}/claim", null)).EnsureSuccessStatusCode();
        var key = (await client.GetFromJsonAsync<ConnectionInfoResponse>($"/api/agents/{agent.Id}/connection"))!.SharedKey;
        (await client.PostAsync($"/api/agents/{agent.Id}/release", null)).EnsureSuccessStatusCode();

        Assert.Equal(0, await app.ScalarAsync("SELECT count(*) FROM outbox_messages WHERE payload::text LIKE '%' || @k || '%'", ("k", key)));
        Assert.Equal(2, await app.ScalarAsync("SELECT count(*) FROM outbox_messages WHERE aggregate_id = @a", ("a", agent.Id)));
    }

    private async Task<(string Type, string Payload)> OutboxRowAsync(string aggregateId, string type)
    {
        await using var connection = new NpgsqlConnection(app.Database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT message_type, payload::text FROM outbox_messages WHERE aggregate_id = @a AND message_type = @t", connection);
        command.Parameters.AddWithValue("a", aggregateId);
        command.Parameters.AddWithValue("t", type);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), "no outbox row");
        return (reader.GetString(0), reader.GetString(1));
    }
}
