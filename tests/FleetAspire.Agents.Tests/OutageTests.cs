using System.Net;
using System.Net.Http.Json;
using FleetAspire.Agents.Apis;
using FleetAspire.Testing;

namespace FleetAspire.Agents.Tests;

public sealed class OutageTests
{
    [Fact]
    public async Task An_unreachable_database_gives_503_with_retry_after_not_500()
    {
        // Nothing listens on port 1: every connection attempt is refused at once.
        const string unreachable = "Host=127.0.0.1;Port=1;Username=postgres;Database=fleet;Timeout=2";
        await using var agents = new FleetServiceFactory<AgentResponse>(unreachable, amqpUri: null);
        using var client = agents.ClientFor(TestTokens.User("outage"));

        var create = await client.PostAsJsonAsync("/api/agents", new CreateAgentRequest("during-outage"));
        var list = await client.GetAsync("/api/agents");
        var claim = await client.PostAsync("/api/agents/agt_x/claim", null);

        foreach (var response in new[] { create, list, claim })
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero, "503 without Retry-After");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }
}
