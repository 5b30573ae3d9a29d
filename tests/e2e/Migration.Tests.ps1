# Live migration of a real QEMU VM (TCG) under the relay (issue 23): a destination QEMU started
# with the source's own command line plus -incoming, on this host, so the agent chardev and the
# relay's QMP socket are re-created at the paths the source had (what a libvirt or Proxmox host
# presents: docs/relay.md, "Live migration"). While a 64 MiB copy runs into the guest, another
# out of it and a client pings in a loop, all through the relay, the VM migrates over QMP and
# the source quits. Hashes of the guest files are computed inside the guest after the move.

BeforeDiscovery {
    $script:Cases = @(@{ Agent = 'Ours' }, @{ Agent = 'Stock' })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'E2eVm.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    # Wait-Until: with a third argument it throws, naming what did not happen in time.
    . (Join-Path $PSScriptRoot '../pester/AgentHelpers.ps1')
    $script:Image = New-E2eImage
    $script:ModulePath = $env:QEMUGUEST_MODULE_PATH
    $script:Size = 64MB

    function Get-GuestText([string] $Command) {
        $r = Invoke-VMGuestCommand -Session $S sh -ArgumentList '-c', $Command -Timeout 120
        $r.ExitCode | Should -Be 0 -Because "'$Command' failed: $($r.StdErr)"
        return $r.StdOut.Trim()
    }

    function Get-GuestHash([string] $Path) {
        return (Get-GuestText "sha256sum '$Path'").Split(' ')[0].ToUpperInvariant()
    }

    # A client of its own on the relay's endpoint, with its own ids: every reply must carry the
    # id of the request it answers and the shape of that command (a reply crossing from the
    # copies' requests would show as either), and the time of every answer is kept.
    $script:PingLoop = {
        param($Endpoint, $State)
        $log = $State.Log
        $s = [Net.Sockets.Socket]::new([Net.Sockets.AddressFamily]::Unix, [Net.Sockets.SocketType]::Stream, [Net.Sockets.ProtocolType]::Unspecified)
        $s.Connect([Net.Sockets.UnixDomainSocketEndPoint]::new($Endpoint))
        $buf = [byte[]]::new(65536)
        $pending = [Text.StringBuilder]::new()
        $n = 0
        try {
            while (-not $State.Stop) {
                $n++
                $cmd = if ($n % 2) { 'guest-ping' } else { 'guest-get-host-name' }
                $id = "ping-$n"
                $sent = [DateTime]::UtcNow
                $null = $s.Send([Text.Encoding]::ASCII.GetBytes("{`"execute`":`"$cmd`",`"id`":`"$id`"}"))
                $line = $null
                # Bounded beyond the relay's own waits (queue 60 s, reply 30 s).
                $deadline = $sent.AddSeconds(150)
                while (-not $line) {
                    $text = $pending.ToString(); $nl = $text.IndexOf("`n")
                    if ($nl -ge 0) { $line = $text.Substring(0, $nl); $null = $pending.Remove(0, $nl + 1); break }
                    if ([DateTime]::UtcNow -gt $deadline) { throw "ping loop: no reply to $id within 150 s" }
                    if (-not $s.Poll(200000, [Net.Sockets.SelectMode]::SelectRead)) { continue }
                    $got = $s.Receive($buf)
                    if ($got -le 0) { throw "ping loop: the relay closed the connection after $id" }
                    $null = $pending.Append([Text.Encoding]::UTF8.GetString($buf, 0, $got))
                }
                $r = $line | ConvertFrom-Json
                $entry = [pscustomobject]@{ Id = $id; Command = $cmd; Sent = $sent; Answered = [DateTime]::UtcNow; Ok = $false; Error = $null; Crossed = $null }
                if ($r.id -ne $id) { $entry.Crossed = "reply id '$($r.id)' to request '$id': $line" }
                elseif ($r.PSObject.Properties['error']) { $entry.Error = "$($r.error.class): $($r.error.desc)" }
                elseif ($cmd -eq 'guest-get-host-name' -and $r.return.'host-name' -ne 'qg-e2e') { $entry.Crossed = "guest-get-host-name answered: $line" }
                elseif ($cmd -eq 'guest-ping' -and @($r.return.PSObject.Properties).Count -ne 0) { $entry.Crossed = "guest-ping answered: $line" }
                else { $entry.Ok = $true }
                $log.Add($entry)
                # Often enough to see a pause of a fraction of a second, rarely enough not to
                # take the copies' turns on the one agent channel (the relay serves clients in turn).
                Start-Sleep -Milliseconds 200
            }
        }
        finally { $s.Dispose() }
    }

    $script:CopyJob = {
        param($ModulePath, $RelayDir, $VMName, $Direction, $Source, $Destination)
        $env:QEMUGUEST_RELAY_DIR = $RelayDir
        Import-Module $ModulePath
        $p = @{ VMName = $VMName; Source = $Source; Destination = $Destination; Force = $true; PassThru = $true; ErrorAction = 'Stop' }
        if ($Direction -eq 'in') { Copy-VMGuestFile @p -LocalToGuest } else { Copy-VMGuestFile @p -GuestToLocal }
    }
}

Describe 'Live migration under the relay (real QEMU, TCG), <Agent> agent' -ForEach $Cases {
    BeforeAll {
        $script:Vm = $null; $script:Dst = $null; $script:Relay = $null; $script:Ctl = $null; $script:Jobs = @()
        $script:SavedRelayDir = $env:QEMUGUEST_RELAY_DIR
        $script:T = Join-Path ([IO.Path]::GetTempPath()) ('qg-e2e-mig-' + [guid]::NewGuid().ToString('n').Substring(0, 8))
        $null = New-Item -ItemType Directory -Path $T
        # Nehalem: the agent's x86-64-v2 baseline, and a model QEMU migrates. (With -cpu max the
        # destination guest's kernel died right after the switch-over: 'stack-protector: Kernel
        # stack is corrupted in: __schedule', under QEMU 7.2 TCG, while a user process ran AVX code.)
        $script:Vm = Start-E2eVm -Image $Image -Agent $Agent -Name "mig-$($Agent.ToLowerInvariant())" -Qmp -Cpu Nehalem
        Write-Host "    booted $($Vm.Name) (qemu pid $($Vm.Pid)) to first sync in $($Vm.BootSeconds) s"
        $script:Relay = Start-E2eRelay -Vm $Vm -Qmp
        $env:QEMUGUEST_RELAY_DIR = $Relay.Directory
        $script:S = New-VMGuestSession -VMName $Vm.Name -ConnectTimeoutSec 60
    }

    AfterAll {
        $script:Jobs | Stop-Job -ErrorAction SilentlyContinue
        $script:Jobs | Remove-Job -Force -ErrorAction SilentlyContinue
        Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false -ErrorAction SilentlyContinue
        $env:QEMUGUEST_RELAY_DIR = $SavedRelayDir
        Close-E2eQmp $script:Ctl
        try { $script:Relay | Stop-E2eRelay }
        finally {
            foreach ($v in $script:Vm, $script:Dst) {
                if ($v -and -not $v.Process.HasExited) { Write-Host "    console of $($v.Name) ($($v.ConsoleLog)):`n$(Get-E2eVmConsole $v)" }
            }
            if ($script:Relay) { Write-Host "    relay log (tail):`n$((Get-Content $Relay.LogFile -Tail 40 -ErrorAction SilentlyContinue) -join "`n")" }
            $script:Dst | Stop-E2eVm -KeepDirectory
            $script:Vm | Stop-E2eVm
            Remove-Item -Recurse -Force $T -ErrorAction SilentlyContinue
        }
    }

    It 'migrates while 64 MiB copies run both ways and a client pings: copies complete with matching hashes, at most one ping error, the relay reconnects and resyncs' {
        # The data: a local file for the copy in, a guest file (made in the guest) for the copy out.
        $buf = [byte[]]::new($Size); [Random]::new(23).NextBytes($buf)
        [IO.File]::WriteAllBytes("$T/in.bin", $buf); $buf = $null
        $inHash = (Get-FileHash "$T/in.bin" -Algorithm SHA256).Hash
        $null = Get-GuestText "head -c $Size /dev/urandom > /tmp/out.bin"
        $outHash = Get-GuestHash '/tmp/out.bin'
        $agentBefore = Get-GuestText 'cat /run/agent.pid /run/agent.restarts'
        $before = Get-E2eRelayStats $Relay

        $script:Dst = Start-E2eVmIncoming -Source $Vm
        $script:Ctl = Connect-E2eQmp $Vm.Control

        $state = [hashtable]::Synchronized(@{ Stop = $false; Log = [Collections.ArrayList]::Synchronized([Collections.ArrayList]::new()) })
        # The migration starts once both copies are under way; the copy out, the shorter one,
        # has most of its 64 MiB to go, and a whole migration of this guest takes a few seconds
        # (the test checks that both copies still ran when it completed).
        $ping = Start-ThreadJob -ScriptBlock $PingLoop -ArgumentList $Relay.Endpoint, $state
        $in = Start-ThreadJob -ScriptBlock $CopyJob -ArgumentList $ModulePath, $Relay.Directory, $Vm.Name, 'in', "$T/in.bin", '/tmp/in.bin'
        $script:Jobs = @($ping, $in)
        Wait-Until { (Get-E2eRelayStats $Relay).'bytes-to-guest' -gt $before.'bytes-to-guest' + 8MB } 300 'the copy into the guest moved 8 MiB'
        $statsOut = Get-E2eRelayStats $Relay
        $out = Start-ThreadJob -ScriptBlock $CopyJob -ArgumentList $ModulePath, $Relay.Directory, $Vm.Name, 'out', '/tmp/out.bin', "$T/out.bin"
        $script:Jobs += $out
        Wait-Until { (Get-E2eRelayStats $Relay).'bytes-from-guest' -gt $statsOut.'bytes-from-guest' + 2MB } 300 'the copy out of the guest moved 2 MiB'
        $null = Invoke-E2eQmp $Ctl 'migrate-set-parameters' @{ 'max-bandwidth' = 4GB }
        $null = Invoke-E2eQmp $Ctl 'migrate' @{ uri = $Dst.Migration }
        $mig = @{}
        Wait-Until { $mig.Last = Invoke-E2eQmp $Ctl 'query-migrate'; if ($mig.Last.status -in 'failed', 'cancelled') { throw "migration $($mig.Last.status): $($mig.Last | ConvertTo-Json -Compress -Depth 5)" }; $mig.Last.status -eq 'completed' } 300 'the migration completed'
        $m = $mig.Last
        $completedAt = [DateTime]::UtcNow
        $inRunning = $in.State -eq 'Running'; $outRunning = $out.State -eq 'Running'
        Write-Host ("    migration: total {0} ms, downtime {1} ms, {2:N0} MiB sent; copies running at the switch: in {3}, out {4}" -f $m.'total-time', $m.downtime, ($m.ram.transferred / 1MB), $inRunning, $outRunning)
        # The relay follows through QMP: at the hand-over it leaves the source's chardev and
        # connects at the same path, now the destination's. Only then does the source quit: on
        # one host, QEMU closing its listening socket unlinks the path, which by then names the
        # destination's socket (docs/relay.md, "Live migration").
        $handOver = [Diagnostics.Stopwatch]::StartNew()
        Wait-Until { $r = Get-E2eRelayStats $Relay; $r.migrations -gt $before.migrations -and $r.connects -gt $before.connects -and $r.state -eq 'ready' } 60 'the relay connected to the destination and synchronised'
        Write-Host ("    relay ready on the destination {0:N0} ms after the test saw the migration complete" -f $handOver.Elapsed.TotalMilliseconds)
        try { $null = Invoke-E2eQmp $Ctl 'quit' } catch { Write-Host "    quit: $($_.Exception.Message)" }
        Wait-E2eVmExit -Vm $Vm -TimeoutSec 60 | Should -Not -BeNullOrEmpty -Because 'the source qemu quits'

        $null = Wait-Job $in, $out -Timeout 600
        $inState = $in.State; $outState = $out.State
        $inResult = Receive-Job $in -ErrorVariable inErr -ErrorAction SilentlyContinue
        $outResult = Receive-Job $out -ErrorVariable outErr -ErrorAction SilentlyContinue
        # A few pings after the copies, on the destination, then the loop stops.
        $afterCopies = $state.Log.Count
        Wait-Until { $state.Log.Count -ge $afterCopies + 5 } 120 'the ping loop answered 5 more times'
        $state.Stop = $true
        $null = Wait-Job $ping -Timeout 200
        $pingErr = $null; $null = Receive-Job $ping -ErrorVariable pingErr -ErrorAction SilentlyContinue
        $stats = Get-E2eRelayStats $Relay

        $log = @($state.Log)
        $ok = @($log | Where-Object Ok)
        # Where the pause shows: the longest gap between answers within 3 s of the moment the test
        # saw the migration complete, next to the longest elsewhere (a ping waits its turn
        # behind copy blocks, and a stock agent runs one command at a time).
        $gaps = for ($i = 1; $i -lt $log.Count; $i++) {
            [pscustomobject]@{ Ms = ($log[$i].Answered - $log[$i - 1].Answered).TotalMilliseconds; Switch = $log[$i].Answered -ge $completedAt.AddSeconds(-3) -and $log[$i - 1].Answered -le $completedAt.AddSeconds(3) }
        }
        $maxGap = ($gaps | Where-Object Switch | Measure-Object Ms -Maximum).Maximum
        $otherGap = ($gaps | Where-Object { -not $_.Switch } | Measure-Object Ms -Maximum).Maximum
        $errors = @($log | Where-Object Error)
        Write-Host ("    ping loop: {0} answers, {1} errors, longest gap between answers across the switch-over {2:N0} ms, elsewhere {3:N0} ms{4}" -f $log.Count, $errors.Count, $maxGap, $otherGap, $(if ($errors) { '; ' + ($errors.Error -join ' | ') }))
        Write-Host ("    copies: in {0} ({1:N1} s), out {2} ({3:N1} s)" -f $inState, $inResult.Duration.TotalSeconds, $outState, $outResult.Duration.TotalSeconds)
        Write-Host ("    relay: connects {0}, disconnects {1}, resyncs {2}, timeouts {3}, relay-errors {4}, dropped {5}, sync-discarded {6}" -f `
                ($stats.connects - $before.connects), ($stats.disconnects - $before.disconnects), ($stats.resyncs - $before.resyncs),
            ($stats.timeouts - $before.timeouts), ($stats.'relay-errors' - $before.'relay-errors'), ($stats.dropped - $before.dropped), ($stats.'sync-discarded' - $before.'sync-discarded'))

        $inRunning | Should -BeTrue -Because 'the copy into the guest was still running when the migration completed'
        $outRunning | Should -BeTrue -Because 'the copy out of the guest was still running when the migration completed'
        $inErr | Should -BeNullOrEmpty
        $outErr | Should -BeNullOrEmpty
        $inState | Should -Be 'Completed'
        $outState | Should -Be 'Completed'
        $inResult.Bytes | Should -Be $Size
        $outResult.Bytes | Should -Be $Size
        $pingErr | Should -BeNullOrEmpty

        # The guest moved, it did not restart: the same agent process answers on the destination.
        $Dst.Process.HasExited | Should -BeFalse
        Get-GuestText 'cat /run/agent.pid /run/agent.restarts' | Should -Be $agentBefore
        Get-GuestHash '/tmp/in.bin' | Should -Be $inHash
        (Get-FileHash "$T/out.bin" -Algorithm SHA256).Hash | Should -Be $outHash
        Get-GuestHash '/tmp/out.bin' | Should -Be $outHash

        @($log | Where-Object Crossed).Crossed | Should -BeNullOrEmpty
        $errors.Count | Should -BeLessOrEqual 1
        foreach ($e in $errors) { $e.Error | Should -Match '^GenericError: qemuguest-relay: .*(migration|connection)' }
        $ok.Count | Should -BeGreaterThan 5
        # The relay followed the move: it lost the source's chardev, connected to the
        # destination's at the same path and synchronised there.
        ($stats.disconnects - $before.disconnects) | Should -BeGreaterOrEqual 1
        ($stats.connects - $before.connects) | Should -BeGreaterOrEqual 1
        ($stats.resyncs - $before.resyncs) | Should -BeGreaterOrEqual 1
        ($stats.migrations - $before.migrations) | Should -Be 1
        ($stats.'vm-stops' - $before.'vm-stops') | Should -BeGreaterOrEqual 1
        $stats.state | Should -Be 'ready'
    }
}
