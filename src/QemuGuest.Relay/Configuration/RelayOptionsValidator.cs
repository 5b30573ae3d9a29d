using System;
using System.Collections.Generic;
using System.Net;
using Microsoft.Extensions.Options;
using QemuGuest.Protocol.Transports;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Relay.Configuration;

/// <summary>Checks the whole configuration once at start; the relay refuses to run on any failure.</summary>
public sealed class RelayOptionsValidator : IValidateOptions<RelayOptions>
{
    public ValidateOptionsResult Validate(string? name, RelayOptions options)
    {
        var errors = new List<string>();
        if (!OperatingSystem.IsWindows() && string.IsNullOrWhiteSpace(options.RuntimeDirectory))
        {
            errors.Add("Relay:RuntimeDirectory must be set.");
        }

        foreach (var (vm, o) in options.Vms)
        {
            if (!VmNames.IsValid(vm))
            {
                errors.Add($"Relay:Vms:{vm}: a VM name is 1-64 of [A-Za-z0-9_.-], not starting with '.' or '-'.");
            }

            if (string.IsNullOrWhiteSpace(o.Agent))
            {
                errors.Add($"Relay:Vms:{vm}:Agent must name the agent chardev socket.");
            }
            else if (!ConnectionString.TryParse(o.Agent, out _))
            {
                errors.Add($"Relay:Vms:{vm}:Agent '{o.Agent}' is not a connection string (a socket path, unix:PATH, tcp:HOST:PORT, pipe:NAME, vsock:CID:PORT, serial:DEV).");
            }

            CheckEndpoints(errors, options, $"Relay:Vms:{vm}:Endpoints", o.Endpoints, allowTcp: true);
        }

        CheckEndpoints(errors, options, "Relay:Endpoints", options.Endpoints, allowTcp: false);
        foreach (var (policy, p) in options.Policies)
        {
            foreach (var entry in p.Allow)
            {
                CheckPattern(errors, $"Relay:Policies:{policy}:Allow", entry);
            }

            foreach (var entry in p.Deny)
            {
                CheckPattern(errors, $"Relay:Policies:{policy}:Deny", entry);
            }
        }

        foreach (var owner in options.Discovery.TrustedOwners)
        {
            if (UnixPathTrust.ResolveOwner(owner ?? "") is null)
            {
                errors.Add($"Relay:Discovery:TrustedOwners: '{owner}' is neither a user on this host nor a uid.");
            }
        }

        var l = options.Limits;
        Positive(errors, "MaxReplyBytes", l.MaxReplyBytes, 64);
        Positive(errors, "MaxRequestBytes", l.MaxRequestBytes, 64);
        Positive(errors, "MaxDepth", l.MaxDepth, 4);
        Positive(errors, "MaxTokens", l.MaxTokens, 16);
        Positive(errors, "MaxGarbageBytes", l.MaxGarbageBytes, 0);
        Positive(errors, "MaxQueuedRequests", l.MaxQueuedRequests, 1);
        Positive(errors, "MaxQueuedPerClient", l.MaxQueuedPerClient, 1);
        Positive(errors, "MaxClientsPerEndpoint", l.MaxClientsPerEndpoint, 1);
        Positive(errors, "SyncAttempts", l.SyncAttempts, 1);
        Positive(errors, "MaxErrorDescChars", l.MaxErrorDescChars, 16);
        if (l.MaxQueuedBytes < l.MaxRequestBytes)
        {
            errors.Add("Relay:Limits:MaxQueuedBytes must be at least MaxRequestBytes.");
        }

        foreach (var (key, seconds) in new[]
        {
            ("FirstByteTimeoutSeconds", l.FirstByteTimeoutSeconds), ("LastByteTimeoutSeconds", l.LastByteTimeoutSeconds),
            ("NoResponseGraceSeconds", l.NoResponseGraceSeconds), ("SyncTimeoutSeconds", l.SyncTimeoutSeconds),
            ("WriteTimeoutSeconds", l.WriteTimeoutSeconds), ("QueueTimeoutSeconds", l.QueueTimeoutSeconds),
            ("ReconnectInitialSeconds", l.ReconnectInitialSeconds), ("ReconnectMaxSeconds", l.ReconnectMaxSeconds),
            ("Discovery:RescanSeconds", options.Discovery.RescanSeconds),
        })
        {
            if (!(seconds > 0 && seconds <= 24 * 3600))
            {
                errors.Add($"Relay:Limits:{key} must be in (0, 86400] seconds (is {seconds}).");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void CheckEndpoints(List<string> errors, RelayOptions options, string where, List<EndpointOptions> endpoints, bool allowTcp)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in endpoints)
        {
            if (!names.Add(e.Name))
            {
                errors.Add($"{where}: endpoint name '{e.Name}' appears twice.");
            }

            if (e.Name.Length > 0 && !VmNames.IsValid(e.Name))
            {
                errors.Add($"{where}: endpoint name '{e.Name}' must be empty or 1-64 of [A-Za-z0-9_.-].");
            }

            if (!string.IsNullOrEmpty(e.Policy) && !EndpointPolicy.TryFind(options, e.Policy, out _))
            {
                errors.Add($"{where}: endpoint '{e.Name}' names unknown policy '{e.Policy}'.");
            }

            if (e.Tcp is not null)
            {
                if (!allowTcp)
                {
                    errors.Add($"{where}: endpoint '{e.Name}': TCP is only for endpoints of one configured VM.");
                }
                else if (!EndpointAddress.TryParse(e.Tcp, out var ep))
                {
                    errors.Add($"{where}: endpoint '{e.Name}': Tcp '{e.Tcp}' is not HOST:PORT with a literal IP.");
                }
                else if (!IPAddress.IsLoopback(ep!.Address) && !e.AllowRemote)
                {
                    errors.Add($"{where}: endpoint '{e.Name}': Tcp '{e.Tcp}' is not loopback; set AllowRemote to mean it.");
                }

                if (string.IsNullOrEmpty(e.Policy) && !e.AllowUnrestricted)
                {
                    errors.Add($"{where}: endpoint '{e.Name}': Tcp '{e.Tcp}' has no Policy, so anyone who can reach the port (every local user, even on loopback) could run any command in the guest; set a Policy, or AllowUnrestricted to mean it.");
                }
            }
            else if (e.NoSocket)
            {
                errors.Add($"{where}: endpoint '{e.Name}': NoSocket without Tcp leaves nothing to connect to.");
            }
        }
    }

    // A malformed entry, an unknown '@class' or a pattern matching no command would leave a
    // hole the operator believes closed: refuse to start (CommandRules.EntryProblem).
    private static void CheckPattern(List<string> errors, string where, string entry)
    {
        string? problem = CommandRules.EntryProblem(entry, EndpointPolicy.SchemaCommands);
        if (problem is not null)
        {
            errors.Add($"{where}: {problem}.");
        }
    }

    private static void Positive(List<string> errors, string key, long value, long min)
    {
        if (value < min)
        {
            errors.Add($"Relay:Limits:{key} must be at least {min} (is {value}).");
        }
    }
}
