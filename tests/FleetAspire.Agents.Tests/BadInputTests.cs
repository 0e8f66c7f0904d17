using System.Net;
using System.Text;
using System.Text.Json;
using FleetAspire.Testing;

namespace FleetAspire.Agents.Tests;

/// <summary>Every endpoint answers bad input with ProblemDetails naming the problem, and writes nothing.</summary>
public sealed class BadInputTests(FleetAppFixture app) : IClassFixture<FleetAppFixture>
{
    public static TheoryData<string, string, string?, HttpStatusCode, string?> Cases => new()
    {
        { "POST", "/api/agents", """{"name":""}""", HttpStatusCode.BadRequest, "name" },
        { "POST", "/api/agents", """{"name":"   "}""", HttpStatusCode.BadRequest, "name" },
        { "POST", "/api/agents", $$"""{"name":"{{new string('x', 101)}}"}""", HttpStatusCode.BadRequest, "name" },
        { "POST", "/api/agents", """{"name":"tab\there"}""", HttpStatusCode.BadRequest, "name" },
        { "POST", "/api/agents", """{}""", HttpStatusCode.BadRequest, "name" },
        { "POST", "/api/agents", """{"name":""", HttpStatusCode.BadRequest, null },
        { "POST", "/api/agents", """{"name":42}""", HttpStatusCode.BadRequest, null },
        { "POST", "/api/agents", "[]", HttpStatusCode.BadRequest, null },
        { "GET", "/api/agents?limit=0", null, HttpStatusCode.BadRequest, "limit" },
        { "GET", "/api/agents?limit=101", null, HttpStatusCode.BadRequest, "limit" },
        { "GET", "/api/agents?limit=abc", null, HttpStatusCode.BadRequest, null },
        { "GET", "/api/agents?machineType=azure", null, HttpStatusCode.BadRequest, "machineType" },
        { "GET", "/api/agents?after=%27%20OR%201%3D1", null, HttpStatusCode.BadRequest, "after" },
        { "GET", "/api/agents/agt_doesnotexist", null, HttpStatusCode.NotFound, null },
        { "GET", $"/api/agents/{new string('a', 300)}", null, HttpStatusCode.NotFound, null },
        { "DELETE", "/api/agents/agt_doesnotexist", null, HttpStatusCode.NotFound, null },
        { "POST", "/api/agents/agt_doesnotexist/claim", null, HttpStatusCode.NotFound, null },
        { "POST", "/api/agents/agt_doesnotexist/release", null, HttpStatusCode.NotFound, null },
        { "GET", "/api/agents/agt_doesnotexist/connection", null, HttpStatusCode.NotFound, null },
        { "GET", "/api/agents/%27;drop%20table/connection", null, HttpStatusCode.NotFound, null },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bad_input_gets_problem_details_and_changes_nothing(string method, string path, string? body, HttpStatusCode expected, string? field)
    {
        using var client = app.AgentsAs(TestTokens.User("fuzzer"));
        var before = await app.ScalarAsync("SELECT count(*) FROM agents");
        using var request = new HttpRequestMessage(new HttpMethod(method), path)
        {
            Content = body is null ? null : new StringContent(body, Encoding.UTF8, "application/json"),
        };

        var response = await client.SendAsync(request);

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal((int)expected, problem.RootElement.GetProperty("status").GetInt32());
        if (field is not null)
        {
            Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(field, out _), $"no error for '{field}'");
        }

        Assert.Equal(before, await app.ScalarAsync("SELECT count(*) FROM agents"));
    }
}
