using System.Text.Json;
using System.Threading;

namespace QemuGuest.Relay;

/// <summary>Per-VM counters, lock-free; read through the control endpoint (relay-stats).</summary>
public sealed class RelayCounters
{
    internal long Requests;          // client requests accepted for the guest
    internal long Replies;           // guest replies passed on (return or error)
    internal long ErrorsToClients;   // errors the relay itself made (timeouts, bad shape, queue full, ...)
    internal long Rejected;          // refused before the guest: schema or policy
    internal long LocalSyncs;        // client guest-sync/-delimited answered by the relay
    internal long BytesToGuest;
    internal long BytesFromGuest;
    internal long Dropped;           // replies matching no outstanding request: stale, forged, duplicate, id-less
    internal long Unsolicited;       // messages while nothing was outstanding
    internal long SyncDiscarded;     // messages discarded while syncing (expected: stale replies, the 0xFF parse error)
    internal long InvalidReplies;    // replies of the wrong shape for the command asked
    internal long Malformed;         // guest messages that were not strict JSON within bounds
    internal long Oversized;         // guest messages over the size, depth or token bound
    internal long GarbageBytes;      // guest bytes that formed no accepted message (approximate)
    internal long GarbageResyncs;    // resyncs forced by too many such bytes
    internal long Timeouts;
    internal long Resyncs;           // guest-sync-delimited rounds started
    internal long SyncFailures;
    internal long Connects;
    internal long Disconnects;
    internal long QueueFull;
    internal long QueueTimeouts;
    internal long NoResponseCommands;
    internal long ClientsAccepted;
    internal long ClientsRefused;
    internal long Stops;             // QMP: the VM stopped (pause, or a migration's switch-over)
    internal long HeldWhileStopped;  // requests held back because QMP said the VM was stopped
    internal long Migrations;        // QMP: this QEMU handed the guest over; the chardev connection was renewed
    internal long BulkTransfers;     // bulk transfers the guest accepted and the relay carried
    internal long BulkFramesToGuest; // checked client frames passed to the guest (end frames not counted)
    internal long BulkFramesFromGuest;
    internal long BulkBytesToGuest;  // payload bytes of those frames
    internal long BulkBytesFromGuest;
    internal long BulkRejected;      // transfers ended by a frame that broke a rule (either side) or by silence

    internal static void Inc(ref long field) => Interlocked.Increment(ref field);

    internal static void Add(ref long field, long n) => Interlocked.Add(ref field, n);

    /// <summary>Adds another VM's counters (for the totals).</summary>
    public void AddFrom(RelayCounters o)
    {
        Requests += Volatile.Read(ref o.Requests);
        Replies += Volatile.Read(ref o.Replies);
        ErrorsToClients += Volatile.Read(ref o.ErrorsToClients);
        Rejected += Volatile.Read(ref o.Rejected);
        LocalSyncs += Volatile.Read(ref o.LocalSyncs);
        BytesToGuest += Volatile.Read(ref o.BytesToGuest);
        BytesFromGuest += Volatile.Read(ref o.BytesFromGuest);
        Dropped += Volatile.Read(ref o.Dropped);
        Unsolicited += Volatile.Read(ref o.Unsolicited);
        SyncDiscarded += Volatile.Read(ref o.SyncDiscarded);
        InvalidReplies += Volatile.Read(ref o.InvalidReplies);
        Malformed += Volatile.Read(ref o.Malformed);
        Oversized += Volatile.Read(ref o.Oversized);
        GarbageBytes += Volatile.Read(ref o.GarbageBytes);
        GarbageResyncs += Volatile.Read(ref o.GarbageResyncs);
        Timeouts += Volatile.Read(ref o.Timeouts);
        Resyncs += Volatile.Read(ref o.Resyncs);
        SyncFailures += Volatile.Read(ref o.SyncFailures);
        Connects += Volatile.Read(ref o.Connects);
        Disconnects += Volatile.Read(ref o.Disconnects);
        QueueFull += Volatile.Read(ref o.QueueFull);
        QueueTimeouts += Volatile.Read(ref o.QueueTimeouts);
        NoResponseCommands += Volatile.Read(ref o.NoResponseCommands);
        ClientsAccepted += Volatile.Read(ref o.ClientsAccepted);
        ClientsRefused += Volatile.Read(ref o.ClientsRefused);
        Stops += Volatile.Read(ref o.Stops);
        HeldWhileStopped += Volatile.Read(ref o.HeldWhileStopped);
        Migrations += Volatile.Read(ref o.Migrations);
        BulkTransfers += Volatile.Read(ref o.BulkTransfers);
        BulkFramesToGuest += Volatile.Read(ref o.BulkFramesToGuest);
        BulkFramesFromGuest += Volatile.Read(ref o.BulkFramesFromGuest);
        BulkBytesToGuest += Volatile.Read(ref o.BulkBytesToGuest);
        BulkBytesFromGuest += Volatile.Read(ref o.BulkBytesFromGuest);
        BulkRejected += Volatile.Read(ref o.BulkRejected);
    }

    /// <summary>Writes every counter as a member of the open object.</summary>
    public void WriteMembers(Utf8JsonWriter w)
    {
        w.WriteNumber("requests", Volatile.Read(ref Requests));
        w.WriteNumber("replies", Volatile.Read(ref Replies));
        w.WriteNumber("relay-errors", Volatile.Read(ref ErrorsToClients));
        w.WriteNumber("rejected", Volatile.Read(ref Rejected));
        w.WriteNumber("local-syncs", Volatile.Read(ref LocalSyncs));
        w.WriteNumber("bytes-to-guest", Volatile.Read(ref BytesToGuest));
        w.WriteNumber("bytes-from-guest", Volatile.Read(ref BytesFromGuest));
        w.WriteNumber("dropped", Volatile.Read(ref Dropped));
        w.WriteNumber("unsolicited", Volatile.Read(ref Unsolicited));
        w.WriteNumber("sync-discarded", Volatile.Read(ref SyncDiscarded));
        w.WriteNumber("invalid-replies", Volatile.Read(ref InvalidReplies));
        w.WriteNumber("malformed", Volatile.Read(ref Malformed));
        w.WriteNumber("oversized", Volatile.Read(ref Oversized));
        w.WriteNumber("garbage-bytes", Volatile.Read(ref GarbageBytes));
        w.WriteNumber("garbage-resyncs", Volatile.Read(ref GarbageResyncs));
        w.WriteNumber("timeouts", Volatile.Read(ref Timeouts));
        w.WriteNumber("resyncs", Volatile.Read(ref Resyncs));
        w.WriteNumber("sync-failures", Volatile.Read(ref SyncFailures));
        w.WriteNumber("connects", Volatile.Read(ref Connects));
        w.WriteNumber("disconnects", Volatile.Read(ref Disconnects));
        w.WriteNumber("queue-full", Volatile.Read(ref QueueFull));
        w.WriteNumber("queue-timeouts", Volatile.Read(ref QueueTimeouts));
        w.WriteNumber("no-response-commands", Volatile.Read(ref NoResponseCommands));
        w.WriteNumber("clients-accepted", Volatile.Read(ref ClientsAccepted));
        w.WriteNumber("clients-refused", Volatile.Read(ref ClientsRefused));
        w.WriteNumber("vm-stops", Volatile.Read(ref Stops));
        w.WriteNumber("held-while-stopped", Volatile.Read(ref HeldWhileStopped));
        w.WriteNumber("migrations", Volatile.Read(ref Migrations));
        w.WriteNumber("bulk-transfers", Volatile.Read(ref BulkTransfers));
        w.WriteNumber("bulk-frames-to-guest", Volatile.Read(ref BulkFramesToGuest));
        w.WriteNumber("bulk-frames-from-guest", Volatile.Read(ref BulkFramesFromGuest));
        w.WriteNumber("bulk-bytes-to-guest", Volatile.Read(ref BulkBytesToGuest));
        w.WriteNumber("bulk-bytes-from-guest", Volatile.Read(ref BulkBytesFromGuest));
        w.WriteNumber("bulk-rejected", Volatile.Read(ref BulkRejected));
    }
}
