# Running guest programs (Invoke-VMGuestCommand, Invoke-VMGuestScript, Start-/Get-/Wait-VMGuestProcess)
# against real agents on this machine: Debian's qemu-ga, and ours when built.

BeforeDiscovery {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    $script:Kinds = @('Stock') + @(if (Get-OurAgentPath) { 'Ours' })
}

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    . (Join-Path $PSScriptRoot 'AgentHelpers.ps1')
}

Describe 'Guest processes against the <_> agent' -ForEach $Kinds {
    BeforeAll {
        $script:Agent, $script:S = Start-AgentSession -Kind $_ -Name "proc-$_"
        $script:T = Join-Path ([IO.Path]::GetTempPath()) ("qg-proc-" + [guid]::NewGuid().ToString('n').Substring(0, 10))
        $null = New-Item -ItemType Directory -Path $T
    }

    AfterAll {
        Stop-AgentSession $Agent -AllSessions
        Remove-Item -Recurse -Force $T -ErrorAction SilentlyContinue
    }

    Context 'Invoke-VMGuestCommand' {
        It 'returns exit code 0 and stdout as text' {
            $r = Invoke-VMGuestCommand -Session $S -FilePath echo -ArgumentList 'hello', 'world'
            $r.ExitCode | Should -Be 0
            $r.StdOut | Should -Be "hello world`n"
            $r.StdErr | Should -Be ''
            $r.Pid | Should -BeGreaterThan 0
            $r.VMName | Should -Be "proc-$_"
        }

        It 'treats a non-zero exit code as a result, not an error' {
            $err = $null
            $r = Invoke-VMGuestCommand -Session $S sh -ArgumentList '-c', 'echo out; echo err >&2; exit 3' -ErrorVariable err
            $err | Should -BeNullOrEmpty
            $r.ExitCode | Should -Be 3
            $r.StdOut | Should -Be "out`n"
            $r.StdErr | Should -Be "err`n"
        }

        It 'decodes UTF-8 output' {
            $r = Invoke-VMGuestCommand -Session $S printf -ArgumentList 'h\303\251llo \342\234\223'
            $r.StdOut | Should -Be 'héllo ✓'
        }

        It 'reports a signal instead of an exit code' {
            $r = Invoke-VMGuestCommand -Session $S sh -ArgumentList '-c', 'kill -TERM $$'
            $r.ExitCode | Should -BeNullOrEmpty
            $r.Signal | Should -Be 15
        }

        It 'feeds piped objects to stdin, all in one run (as Invoke-Command -InputObject)' {
            $r = 'a', 'b' | Invoke-VMGuestCommand -Session $S -- cat
            @($r).Count | Should -Be 1
            $r.StdOut | Should -Be "a`nb`n"
            $bytes = [byte[]](0, 1, 255) | Invoke-VMGuestCommand -Session $S wc '-c'
            $bytes.StdOut.Trim() | Should -Be '3'
            # Sessions piped in are still targets, not input.
            ($S | Invoke-VMGuestCommand echo target).StdOut | Should -Be "target`n"
        }

        It 'refuses standard input over 32 MiB before starting anything' {
            $big = [byte[]]::new(32MB + 1)
            { Invoke-VMGuestCommand -Session $S cat -InputObject $big } | Should -Throw -ErrorId 'InputTooLarge,*' -ExpectedMessage '*33554433 bytes*'
        }

        It 'feeds -InputObject to stdin (string, lines, bytes)' {
            (Invoke-VMGuestCommand -Session $S cat -InputObject 'ünï code').StdOut | Should -Be 'ünï code'
            (Invoke-VMGuestCommand -Session $S cat -InputObject @('one', 'two')).StdOut | Should -Be "one`ntwo`n"
            (Invoke-VMGuestCommand -Session $S wc -ArgumentList '-c' -InputObject ([byte[]](0..255))).StdOut.Trim() | Should -Be '256'
        }

        It 'adds -Environment variables to the agent''s environment (PATH kept)' {
            $r = Invoke-VMGuestCommand -Session $S sh -ArgumentList '-c', 'echo "$QG_A|$QG_B"; command -v ls >/dev/null && echo path-ok' -Environment @{ QG_A = 'x y'; QG_B = 'é' }
            $r.StdOut | Should -Be "x y|é`npath-ok`n"
        }

        It 'starts in -WorkingDirectory' {
            (Invoke-VMGuestCommand -Session $S pwd -WorkingDirectory $T).StdOut.Trim() | Should -Be $T
        }

        It 'fails a timeout with GuestCommandTimeout and kills the program' {
            $marker = "$(Get-Random -Minimum 100000 -Maximum 999999)"
            $err = $null
            $clock = [Diagnostics.Stopwatch]::StartNew()
            Invoke-VMGuestCommand -Session $S sleep -ArgumentList "1$marker" -Timeout 1 -ErrorVariable err -ErrorAction SilentlyContinue
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 15
            $err[0].FullyQualifiedErrorId | Should -BeLike 'GuestCommandTimeout,*'
            $err[0].CategoryInfo.Category | Should -Be 'OperationTimeout'
            Start-Sleep -Milliseconds 300
            & pgrep -f "sleep 1$marker" | Should -BeNullOrEmpty
        }

        It 'reports a program that does not exist as an agent error' {
            $err = $null
            Invoke-VMGuestCommand -Session $S /nonexistent/program -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'AgentGenericError,*'
        }

        It 'runs nothing with -WhatIf' {
            Invoke-VMGuestCommand -Session $S touch -ArgumentList "$T/whatif" -WhatIf
            "$T/whatif" | Should -Not -Exist
        }

        It 'runs on many targets at once' {
            $a2, $s2 = Start-AgentSession -Kind $_ -Name "proc2-$_"
            try {
                $r = Invoke-VMGuestCommand -Session $S, $s2 hostname -ThrottleLimit 2
                @($r).Count | Should -Be 2
                ($r.VMName | Sort-Object) | Should -Be (@("proc-$_", "proc2-$_") | Sort-Object)
            }
            finally { Stop-AgentSession $a2 $s2 }
        }
    }

    Context 'Invoke-VMGuestScript' {
        It 'runs Bash and Sh script text' {
            (Invoke-VMGuestScript -Session $S -ScriptText 'a=(1 2 3); echo ${#a[@]}' -ScriptType Bash).StdOut | Should -Be "3`n"
            (Invoke-VMGuestScript -Session $S -ScriptText 'echo "$0"; exit 4' -ScriptType Sh).ExitCode | Should -Be 4
        }

        It 'runs PowerShell script text when pwsh is in the guest' -Skip:(-not (Get-Command pwsh -CommandType Application -ErrorAction SilentlyContinue)) {
            (Invoke-VMGuestScript -Session $S -ScriptText '"{0}" -f (2 + 3)' -ScriptType PowerShell).StdOut.Trim() | Should -Be '5'
        }

        It 'runs a 300 KB script (a file in the guest, not one command-line argument)' {
            # As bash -c text this failed: "Argument list too long" (Linux: 128 KiB per argument).
            $lines = 1..6000 | ForEach-Object { "n=`$((n+1)) # $('x' * 40)" }
            $text = "n=0`n" + ($lines -join "`n") + "`necho `"`$n`""
            $text.Length | Should -BeGreaterThan 300000
            $r = Invoke-VMGuestScript -Session $S -ScriptText $text -ScriptType Sh -Timeout 120
            $r.StdErr | Should -Be ''
            $r.StdOut | Should -Be "6000`n"
        }

        It 'writes the script private (0700, the agent''s user) and removes it after a failing run' {
            $r = Invoke-VMGuestScript -Session $S -ScriptText 'echo "$0"; stat -c %a "$0"; exit 5' -ScriptType Sh
            $r.ExitCode | Should -Be 5
            $path, $mode = $r.StdOut.Trim() -split "`n"
            $path | Should -Match '^/tmp/qemuguest-script-[0-9a-f]{32}\.sh$'
            $mode | Should -Be '700'
            $path | Should -Not -Exist
        }

        It 'removes the script file when Stop-Job stops it' {
            $marker = Join-Path $T "stopped-$(Get-Random)"
            $job = Invoke-VMGuestScript -Session $S -ScriptText "echo `"`$0`" > '$marker'; sleep 600" -ScriptType Sh -AsJob
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while (-not ((Test-Path $marker) -and (Get-Content -Raw $marker)) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
            $path = (Get-Content -Raw $marker).Trim()
            $path | Should -Exist
            $job | Stop-Job
            $job | Wait-Job -Timeout 60 | Out-Null
            $job | Remove-Job -Force
            $path | Should -Not -Exist
        }

        It 'picks the interpreter from the guest OS when -ScriptType is not given (Linux: bash)' {
            (Invoke-VMGuestScript -Session $S -ScriptText 'echo "${BASH_VERSION:+bash}"').StdOut | Should -Be "bash`n"
        }

        It 'accepts PowerCLI''s Bat as Cmd' {
            [QemuGuest.Cmdlets.Tasks.InvokeVMGuestScriptCommand+GuestScriptType]::Bat | Should -Be ([QemuGuest.Cmdlets.Tasks.InvokeVMGuestScriptCommand+GuestScriptType]::Cmd)
            { Invoke-VMGuestScript -Session $S -ScriptText 'dir' -ScriptType Bat -WhatIf } | Should -Not -Throw
            { Invoke-VMGuestScript -Session $S -ScriptText 'dir' -ScriptType Banana -WhatIf } | Should -Throw -ExpectedMessage '*Bat*'
        }

        It 'takes standard input from the pipeline, all of it for one run' {
            $r = 'b', 'a' | Invoke-VMGuestScript -Session $S -ScriptText 'sort' -ScriptType Sh
            @($r).Count | Should -Be 1
            $r.StdOut | Should -Be "a`nb`n"
        }

        It 'prints its output as its string, and shows a table' {
            $r = Invoke-VMGuestScript -Session $S -ScriptText 'printf "hi\033]0;x\007"' -ScriptType Sh
            "$r" | Should -Be "hi`e]0;x`a"
            $table = $r | Out-String
            $table | Should -Match 'VMName\s+ExitCode\s+Duration\s+StdOut'
            $table | Should -Not -Match "`e"
        }
    }

    Context 'Start-, Get-, Wait-VMGuestProcess' {
        It 'starts without waiting, reports Running, then waits for the result' {
            $p = Start-VMGuestProcess -Session $S sh -ArgumentList '-c', 'sleep 1; echo done; exit 2'
            $p.Pid | Should -BeGreaterThan 0
            (Get-VMGuestProcess -Session $S -Id $p.Pid).State | Should -Be 'Running'
            $r = $p | Wait-VMGuestProcess -Session $S -Timeout 30
            $r.ExitCode | Should -Be 2
            $r.StdOut | Should -Be "done`n"
        }

        It 'keeps a result Get-VMGuestProcess saw, for Wait-VMGuestProcess' {
            $p = Start-VMGuestProcess -Session $S echo -ArgumentList 'kept'
            $deadline = [DateTime]::UtcNow.AddSeconds(10)
            do { $g = Get-VMGuestProcess -Session $S -Id $p.Pid; Start-Sleep -Milliseconds 50 } until ($g.State -eq 'Exited' -or [DateTime]::UtcNow -gt $deadline)
            $g.ExitCode | Should -Be 0
            (Wait-VMGuestProcess -Session $S -Id $p.Pid).StdOut | Should -Be "kept`n"
        }

        It 'times out a wait with GuestCommandTimeout, leaving the program running unless -Kill' {
            $p = Start-VMGuestProcess -Session $S sleep -ArgumentList '30'
            $err = $null
            Wait-VMGuestProcess -Session $S -Id $p.Pid -Timeout 1 -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'GuestCommandTimeout,*'
            (Get-VMGuestProcess -Session $S -Id $p.Pid).State | Should -Be 'Running'
            Wait-VMGuestProcess -Session $S -Id $p.Pid -Timeout 1 -Kill -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'GuestCommandTimeout,*'
            $err[0].Exception.Message | Should -BeLike '*killed*'
        }

        It 'reports an unknown process id as GuestProcessNotFound' {
            $err = $null
            Wait-VMGuestProcess -Session $S -Id 999999999 -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'GuestProcessNotFound,*'
        }
    }
}
