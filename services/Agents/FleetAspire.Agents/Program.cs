using FleetAspire.Messaging;
using FleetAspire.Agents;
using FleetAspire.Agents.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseServiceDefaults();
app.MapAgentsApi();
app.MapOutboxApi();

app.Run();
