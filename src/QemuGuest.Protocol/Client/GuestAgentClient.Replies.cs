using System;
using System.Collections.Generic;
using System.Text.Json;
using QemuGuest.Protocol.Framing;
using QemuGuest.Protocol.Link;

namespace QemuGuest.Protocol.Client;

// The receive side: replies from the link matched to calls; the link closing.
public sealed partial class GuestAgentClient
{
    /// <summary>Hands what the link reads to the client; one per client, shared by its successive links.</summary>
    private sealed class LinkReceiver : AgentLinkReceiver
    {
        private readonly GuestAgentClient _client;

        public LinkReceiver(GuestAgentClient client) => _client = client;

        public override void OnMessage(AgentLink link, ReadOnlyMemory<byte> message) => _client.OnReply(link, message);

        public override void OnFrame(AgentLink link, JsonFrame frame, bool syncing)
        {
            // During sync everything before the matching reply is discarded.
            if (!syncing)
            {
                _client.OnFrame(link, frame);
            }
        }

        public override void OnBulkFrame(AgentLink link, ReadOnlyMemory<byte> payload) => _client.OnBulkFrame(link, payload);

        public override void OnBulkEnd(AgentLink link, string? error) => _client.OnBulkEnd(link, error);

        public override void OnClosed(AgentLink link, string reason, Exception? error) => _client.OnDisconnected(link, error);
    }

    private void OnFrame(AgentLink connection, JsonFrame frame)
    {
        lock (_gate)
        {
            if (_connection != connection)
            {
                return;
            }
        }

        switch (frame.Kind)
        {
            case JsonFrameKind.TooLarge:
            case JsonFrameKind.TooDeep:
            case JsonFrameKind.TooManyTokens:
                // The reader skips the rest of the value, so the stream stays in step.
                FailOldest(new QgaProtocolException(null, frame.Kind switch
                {
                    JsonFrameKind.TooLarge => $"A reply from {Endpoint} exceeds {_options.MaxMessageBytes} bytes.",
                    JsonFrameKind.TooDeep => $"A reply from {Endpoint} nests deeper than {_options.MaxDepth} levels.",
                    _ => $"A reply from {Endpoint} has more than {_linkOptions.MaxTokens} JSON tokens.",
                }), markOutOfStep: false);
                break;
            default:
                // Stray or unexpected bytes: the agent never sends these outside sync.
                lock (_gate)
                {
                    _outOfStep = true;
                }

                break;
        }
    }

    private void OnReply(AgentLink connection, ReadOnlyMemory<byte> message)
    {
        if (OnBulkMessage(connection, message))
        {
            return;
        }

        // JsonDocument would accept these and throw InvalidOperationException in whoever reads
        // the string later (a typed reader, a cmdlet): refuse them here as a protocol error.
        string? badString = JsonStringCheck.FindError(message.Span);
        if (badString is not null)
        {
            FailOldest(new QgaProtocolException(null, $"The guest agent at {Endpoint} sent malformed JSON: {badString}."), markOutOfStep: true);
            return;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(message, _documentOptions);
        }
        catch (JsonException ex)
        {
            // QEMU's wording and a position, not System.Text.Json's text: that quotes the guest's bytes.
            string where = ex.BytePositionInLine is long at ? " at byte " + at.ToString(System.Globalization.CultureInfo.InvariantCulture) : string.Empty;
            FailOldest(new QgaProtocolException(null, $"The guest agent at {Endpoint} sent malformed JSON ({WireTexts.Describe(ex)}{where}).", ex), markOutOfStep: true);
            return;
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                FailOldest(new QgaProtocolException(null, $"The guest agent at {Endpoint} sent a {root.ValueKind} where a reply object belongs."), markOutOfStep: true);
                return;
            }

            long? numericId = null;
            bool hasId = root.TryGetProperty("id", out JsonElement idElement);
            if (hasId && idElement.ValueKind == JsonValueKind.Number && idElement.TryGetInt64(out long parsed))
            {
                numericId = parsed;
            }

            PendingCall? target = null;
            List<PendingCall>? skipped = null;
            lock (_gate)
            {
                if (_connection != connection)
                {
                    return;
                }

                int index = -1;
                if (numericId is long id)
                {
                    index = _inFlight.FindIndex(c => c.ExpectedId == id);
                }

                if (index < 0 && _inFlight.Count > 0)
                {
                    // Raw requests (caller's id, if any) and id-less errors: oldest first. A typed
                    // request's reply echoing some other id is stale. So is an id-less success: the
                    // agent echoes the id of every request it could parse, so only an error can lack
                    // it; a success without one was never an answer to this request, and a value
                    // must never reach a call that did not ask for it.
                    PendingCall oldest = _inFlight[0];
                    if (oldest.ExpectedId is null || (!hasId && root.TryGetProperty("error", out _)))
                    {
                        index = 0;
                    }
                }

                if (index < 0)
                {
                    _outOfStep = true;
                    return;
                }

                target = _inFlight[index];
                if (index > 0)
                {
                    skipped = _inFlight.GetRange(0, index);
                }

                _inFlight.RemoveRange(0, index + 1);
                bool wasLive = target.State != CallState.Done;
                target.State = CallState.Done;
                if (skipped is not null)
                {
                    foreach (PendingCall c in skipped)
                    {
                        c.Skipped = c.State != CallState.Done;
                        c.State = CallState.Done;
                    }
                }

                Pulse();
                if (!wasLive)
                {
                    target = null; // a placeholder for a timed-out call: swallow its late reply
                }
            }

            if (skipped is not null)
            {
                foreach (PendingCall c in skipped)
                {
                    if (!c.Skipped)
                    {
                        continue;
                    }

                    if (c.Kind is CallKind.NoResponse or CallKind.RawNoResponse)
                    {
                        c.TrySetResult(null); // a later request got its reply: this one ran quietly
                    }
                    else
                    {
                        c.TrySetException(new QgaProtocolException(c.Command, $"The guest agent at {Endpoint} answered a later request without answering {c.Command}."));
                    }
                }
            }

            if (target is not null)
            {
                Complete(target, root, message);
            }
        }
    }

    private void Complete(PendingCall call, JsonElement root, ReadOnlyMemory<byte> message)
    {
        if (call.Kind is CallKind.Raw or CallKind.RawNoResponse)
        {
            // The caller owns the result: copy out of the receive buffer.
            call.TrySetResult(JsonDocument.Parse(message.ToArray(), _documentOptions));
            return;
        }

        if (root.TryGetProperty("return", out JsonElement value))
        {
            if (call.ReadReturn is { } read && call.Kind == CallKind.Typed)
            {
                // Safe on the caller's buffers: the call is Done under the gate already, so no
                // timeout or cancellation can complete it (and free them) while this runs.
                object? result;
                try
                {
                    result = read(value);
                }
                catch (Exception ex)
                {
                    call.TrySetException(ex);
                    return;
                }

                call.TrySetResult(result);
                return;
            }

            call.TrySetResult(call.Kind == CallKind.NoResponse ? null : value.Clone());
            return;
        }

        if (root.TryGetProperty("error", out JsonElement error) && error.ValueKind == JsonValueKind.Object
            && error.TryGetProperty("class", out JsonElement errorClass) && errorClass.ValueKind == JsonValueKind.String
            && error.TryGetProperty("desc", out JsonElement desc) && desc.ValueKind == JsonValueKind.String)
        {
            QgaInterruption? interruption = error.TryGetProperty(QgaInterruptions.Member, out JsonElement mark) && mark.ValueKind == JsonValueKind.String
                ? QgaInterruptions.FromWire(mark.GetString())
                : null;
            call.TrySetException(QgaCommandException.Create(call.Command, errorClass.GetString()!, desc.GetString()!, interruption));
            return;
        }

        call.TrySetException(new QgaProtocolException(call.Command, $"The guest agent at {Endpoint} replied to {call.Command} with neither \"return\" nor a well-formed \"error\"."));
    }

    private void FailOldest(Exception error, bool markOutOfStep)
    {
        PendingCall? call = null;
        lock (_gate)
        {
            if (markOutOfStep)
            {
                _outOfStep = true;
            }

            if (_inFlight.Count > 0)
            {
                call = _inFlight[0];
                _inFlight.RemoveAt(0);
                if (call.State == CallState.Done)
                {
                    call = null;
                }
                else
                {
                    call.State = CallState.Done;
                }

                Pulse();
            }
            else
            {
                _outOfStep = true;
            }
        }

        if (call is not null)
        {
            call.TrySetException(error is QgaProtocolException p && p.Command is null
                ? new QgaProtocolException(call.Command, p.Message, p.InnerException)
                : error);
        }
    }

    /// <summary>The link closed (whoever closed it): what waited on it fails, or, for a command without success response, succeeds.</summary>
    private void OnDisconnected(AgentLink connection, Exception? error)
    {
        List<PendingCall> inFlight;
        lock (_gate)
        {
            if (_connection != connection)
            {
                return;
            }

            _connection = null;
            _outOfStep = true;
            inFlight = new List<PendingCall>(_inFlight);
            _inFlight.Clear();
            foreach (PendingCall call in inFlight)
            {
                if (call.State is CallState.Done or CallState.Sending)
                {
                    // Done: nothing to do. Still being written: the pump decides when its write
                    // completes or fails.
                    call.Skipped = false;
                    continue;
                }

                call.Skipped = true;
                call.SentCompletely = call.State == CallState.InFlight;
                call.State = CallState.Done;
            }

            Pulse();
        }

        string reason = error is null or OperationCanceledException or ObjectDisposedException ? "the channel closed" : error.Message;
        foreach (PendingCall call in inFlight)
        {
            if (!call.Skipped)
            {
                continue;
            }

            // A command without success response that was fully sent: closing is its success.
            bool sent = call.SentCompletely;
            if (sent && call.Kind is CallKind.NoResponse or CallKind.RawNoResponse)
            {
                call.TrySetResult(null);
            }
            else
            {
                call.TrySetException(new QgaDisconnectedException(call.Command, $"Lost the connection to {Endpoint} while waiting for the reply to {call.Command}: {reason}.", error));
            }
        }
    }
}
